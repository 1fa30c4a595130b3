// Original file: proto/kip/v1/agent.proto

import type { CheckStatus as _kip_v1_CheckStatus, CheckStatus__Output as _kip_v1_CheckStatus__Output } from '../../kip/v1/CheckStatus.ts';

export interface Check {
  'name'?: (string);
  'status'?: (_kip_v1_CheckStatus);
  'message'?: (string);
  'fix'?: (string);
}

export interface Check__Output {
  'name': (string);
  'status': (_kip_v1_CheckStatus__Output);
  'message': (string);
  'fix': (string);
}
