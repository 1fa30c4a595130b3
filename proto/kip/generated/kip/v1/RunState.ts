// Original file: proto/kip/v1/agent.proto

import type { RunPhase as _kip_v1_RunPhase, RunPhase__Output as _kip_v1_RunPhase__Output } from '../../kip/v1/RunPhase.ts';
import type { Step as _kip_v1_Step, Step__Output as _kip_v1_Step__Output } from '../../kip/v1/Step.ts';
import type { StepStatus as _kip_v1_StepStatus, StepStatus__Output as _kip_v1_StepStatus__Output } from '../../kip/v1/StepStatus.ts';
import type { StepEvent as _kip_v1_StepEvent, StepEvent__Output as _kip_v1_StepEvent__Output } from '../../kip/v1/StepEvent.ts';
import type { Long } from '@grpc/proto-loader';

export interface RunState {
  'runId'?: (string);
  'fromVersion'?: (string);
  'toVersion'?: (string);
  'phase'?: (_kip_v1_RunPhase);
  'step'?: (_kip_v1_Step);
  'stepStatus'?: (_kip_v1_StepStatus);
  'events'?: (_kip_v1_StepEvent)[];
  'errorCode'?: (string);
  'errorMessage'?: (string);
  'journalTail'?: (string)[];
  'startedAtUnixMs'?: (number | string | Long);
  'finishedAtUnixMs'?: (number | string | Long);
  'component'?: (string);
}

export interface RunState__Output {
  'runId': (string);
  'fromVersion': (string);
  'toVersion': (string);
  'phase': (_kip_v1_RunPhase__Output);
  'step': (_kip_v1_Step__Output);
  'stepStatus': (_kip_v1_StepStatus__Output);
  'events': (_kip_v1_StepEvent__Output)[];
  'errorCode': (string);
  'errorMessage': (string);
  'journalTail': (string)[];
  'startedAtUnixMs': (number);
  'finishedAtUnixMs': (number);
  'component': (string);
}
