export type { StepEvent__Output as StepEvent } from '../../agent/generated/kip/v1/StepEvent.ts';
export type { UpgradeRequest } from '../../agent/generated/kip/v1/UpgradeRequest.ts';
