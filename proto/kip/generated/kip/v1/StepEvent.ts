// Original file: proto/kip/v1/agent.proto

import type { Step as _kip_v1_Step, Step__Output as _kip_v1_Step__Output } from '../../kip/v1/Step.ts';
import type { StepStatus as _kip_v1_StepStatus, StepStatus__Output as _kip_v1_StepStatus__Output } from '../../kip/v1/StepStatus.ts';
import type { RunPhase as _kip_v1_RunPhase, RunPhase__Output as _kip_v1_RunPhase__Output } from '../../kip/v1/RunPhase.ts';
import type { Long } from '@grpc/proto-loader';

export interface StepEvent {
  'runId'?: (string);
  'seq'?: (number);
  'step'?: (_kip_v1_Step);
  'status'?: (_kip_v1_StepStatus);
  'message'?: (string);
  'atUnixMs'?: (number | string | Long);
  'phase'?: (_kip_v1_RunPhase);
  'errorCode'?: (string);
  'journalTail'?: (string)[];
  'firstHealthyAtUnixMs'?: (number | string | Long);
  'mainPid'?: (number);
  'downtimeMs'?: (number | string | Long);
  'skipFileWritten'?: (string);
  'skipped'?: (string);
}

export interface StepEvent__Output {
  'runId': (string);
  'seq': (number);
  'step': (_kip_v1_Step__Output);
  'status': (_kip_v1_StepStatus__Output);
  'message': (string);
  'atUnixMs': (number);
  'phase': (_kip_v1_RunPhase__Output);
  'errorCode': (string);
  'journalTail': (string)[];
  'firstHealthyAtUnixMs': (number);
  'mainPid': (number);
  'downtimeMs': (number);
  'skipFileWritten': (string);
  'skipped': (string);
}
