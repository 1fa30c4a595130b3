// Original file: proto/kip/v1/agent.proto

export const HealMode = {
  HEAL_MODE_UNSPECIFIED: 'HEAL_MODE_UNSPECIFIED',
  HEAL_RESTART: 'HEAL_RESTART',
  HEAL_FINALIZE: 'HEAL_FINALIZE',
} as const;

export type HealMode =
  | 'HEAL_MODE_UNSPECIFIED'
  | 0
  | 'HEAL_RESTART'
  | 1
  | 'HEAL_FINALIZE'
  | 2

export type HealMode__Output = typeof HealMode[keyof typeof HealMode]
