// Original file: proto/kip/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface KubeletConnectionErrors {
  'windowMinutes'?: (number);
  'count'?: (number);
  'minutesWithErrors'?: (number);
  'lastAtUnixMs'?: (number | string | Long);
}

export interface KubeletConnectionErrors__Output {
  'windowMinutes': (number);
  'count': (number);
  'minutesWithErrors': (number);
  'lastAtUnixMs': (number);
}
