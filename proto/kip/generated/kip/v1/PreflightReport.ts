// Original file: proto/kip/v1/agent.proto

import type { Check as _kip_v1_Check, Check__Output as _kip_v1_Check__Output } from '../../kip/v1/Check.ts';

export interface PreflightReport {
  'currentVersion'?: (string);
  'targetVersion'?: (string);
  'ok'?: (boolean);
  'checks'?: (_kip_v1_Check)[];
}

export interface PreflightReport__Output {
  'currentVersion': (string);
  'targetVersion': (string);
  'ok': (boolean);
  'checks': (_kip_v1_Check__Output)[];
}
