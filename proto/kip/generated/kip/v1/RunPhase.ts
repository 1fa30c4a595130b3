// Original file: proto/kip/v1/agent.proto

export const RunPhase = {
  RUN_PHASE_UNSPECIFIED: 'RUN_PHASE_UNSPECIFIED',
  RUN_RUNNING: 'RUN_RUNNING',
  RUN_SUCCEEDED: 'RUN_SUCCEEDED',
  RUN_ROLLING_BACK: 'RUN_ROLLING_BACK',
  RUN_ROLLED_BACK: 'RUN_ROLLED_BACK',
  RUN_FAILED: 'RUN_FAILED',
} as const;

export type RunPhase =
  | 'RUN_PHASE_UNSPECIFIED'
  | 0
  | 'RUN_RUNNING'
  | 1
  | 'RUN_SUCCEEDED'
  | 2
  | 'RUN_ROLLING_BACK'
  | 3
  | 'RUN_ROLLED_BACK'
  | 4
  | 'RUN_FAILED'
  | 5

export type RunPhase__Output = typeof RunPhase[keyof typeof RunPhase]
