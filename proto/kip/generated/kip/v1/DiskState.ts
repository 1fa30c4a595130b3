// Original file: proto/kip/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface DiskState {
  'path'?: (string);
  'freeBytes'?: (number | string | Long);
  'totalBytes'?: (number | string | Long);
}

export interface DiskState__Output {
  'path': (string);
  'freeBytes': (number);
  'totalBytes': (number);
}
