// Original file: proto/kip/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface HoldState {
  'component'?: (string);
  'runtime'?: (string);
  'phase'?: (string);
  'unit'?: (string);
  'manifest'?: (string);
  'heldManifest'?: (string);
  'sinceUnixMs'?: (number | string | Long);
  'changed'?: (boolean);
}

export interface HoldState__Output {
  'component': (string);
  'runtime': (string);
  'phase': (string);
  'unit': (string);
  'manifest': (string);
  'heldManifest': (string);
  'sinceUnixMs': (number);
  'changed': (boolean);
}
