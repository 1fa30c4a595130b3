// Original file: proto/kip/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface StageBinaryMetadata {
  'version'?: (string);
  'sha256'?: (string);
  'size'?: (number | string | Long);
  'component'?: (string);
}

export interface StageBinaryMetadata__Output {
  'version': (string);
  'sha256': (string);
  'size': (number);
  'component': (string);
}
