// Original file: proto/kip/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface WatchRequest {
  'fromSequence'?: (number | string | Long);
}

export interface WatchRequest__Output {
  'fromSequence': (number);
}
