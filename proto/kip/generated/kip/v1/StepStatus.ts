// Original file: proto/kip/v1/agent.proto

export const StepStatus = {
  STEP_STATUS_UNSPECIFIED: 'STEP_STATUS_UNSPECIFIED',
  STEP_STARTED: 'STEP_STARTED',
  STEP_DONE: 'STEP_DONE',
  STEP_FAILED: 'STEP_FAILED',
} as const;

export type StepStatus =
  | 'STEP_STATUS_UNSPECIFIED'
  | 0
  | 'STEP_STARTED'
  | 1
  | 'STEP_DONE'
  | 2
  | 'STEP_FAILED'
  | 3

export type StepStatus__Output = typeof StepStatus[keyof typeof StepStatus]
