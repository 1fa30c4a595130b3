export type { StepEvent__Output as StepEvent } from '../../proto/kip/generated/kip/v1/StepEvent.ts';
export type { UpgradeRequest } from '../../proto/kip/generated/kip/v1/UpgradeRequest.ts';
