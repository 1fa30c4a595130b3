// Original file: proto/kip/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface StagedBinary {
  'version'?: (string);
  'sha256'?: (string);
  'size'?: (number | string | Long);
  'patched'?: (boolean);
  'component'?: (string);
}

export interface StagedBinary__Output {
  'version': (string);
  'sha256': (string);
  'size': (number);
  'patched': (boolean);
  'component': (string);
}
