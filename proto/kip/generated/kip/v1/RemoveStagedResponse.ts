// Original file: proto/kip/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface RemoveStagedResponse {
  'removed'?: (boolean);
  'freedBytes'?: (number | string | Long);
}

export interface RemoveStagedResponse__Output {
  'removed': (boolean);
  'freedBytes': (number);
}
