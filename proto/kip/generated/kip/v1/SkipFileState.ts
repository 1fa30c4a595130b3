// Original file: proto/kip/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface SkipFileState {
  'path'?: (string);
  'present'?: (boolean);
  'valid'?: (boolean);
  'version'?: (string);
  'unixSeconds'?: (number | string | Long);
  'raw'?: (string);
  'problem'?: (string);
}

export interface SkipFileState__Output {
  'path': (string);
  'present': (boolean);
  'valid': (boolean);
  'version': (string);
  'unixSeconds': (number);
  'raw': (string);
  'problem': (string);
}
