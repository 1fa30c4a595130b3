// Original file: proto/kip/v1/agent.proto

import type { StagedBinary as _kip_v1_StagedBinary, StagedBinary__Output as _kip_v1_StagedBinary__Output } from '../../kip/v1/StagedBinary.ts';

export interface StageBinaryResponse {
  'binary'?: (_kip_v1_StagedBinary | null);
  'alreadyStaged'?: (boolean);
  'path'?: (string);
}

export interface StageBinaryResponse__Output {
  'binary': (_kip_v1_StagedBinary__Output | null);
  'alreadyStaged': (boolean);
  'path': (string);
}
