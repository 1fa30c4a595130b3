// Original file: proto/kip/v1/agent.proto

import type { HealMode as _kip_v1_HealMode, HealMode__Output as _kip_v1_HealMode__Output } from '../../kip/v1/HealMode.ts';
import type { Long } from '@grpc/proto-loader';

export interface HealResponse {
  'healId'?: (string);
  'mode'?: (_kip_v1_HealMode);
  'dryRun'?: (boolean);
  'restarted'?: (boolean);
  'oldMainPid'?: (number);
  'newMainPid'?: (number);
  'downtimeMs'?: (number | string | Long);
  'firstHealthyAtUnixMs'?: (number | string | Long);
  'gate'?: (string);
  'containersBefore'?: (number);
  'containersRestarted'?: (string)[];
  'oldHashContainers'?: (string)[];
}

export interface HealResponse__Output {
  'healId': (string);
  'mode': (_kip_v1_HealMode__Output);
  'dryRun': (boolean);
  'restarted': (boolean);
  'oldMainPid': (number);
  'newMainPid': (number);
  'downtimeMs': (number);
  'firstHealthyAtUnixMs': (number);
  'gate': (string);
  'containersBefore': (number);
  'containersRestarted': (string)[];
  'oldHashContainers': (string)[];
}
