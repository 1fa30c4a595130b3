// Original file: proto/kip/v1/agent.proto

import type { HealMode as _kip_v1_HealMode, HealMode__Output as _kip_v1_HealMode__Output } from '../../kip/v1/HealMode.ts';

export interface HealRequest {
  'mode'?: (_kip_v1_HealMode);
  'dryRun'?: (boolean);
  'healId'?: (string);
  'timeoutMs'?: (number);
  'settleMs'?: (number);
}

export interface HealRequest__Output {
  'mode': (_kip_v1_HealMode__Output);
  'dryRun': (boolean);
  'healId': (string);
  'timeoutMs': (number);
  'settleMs': (number);
}
