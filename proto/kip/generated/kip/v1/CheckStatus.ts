// Original file: proto/kip/v1/agent.proto

export const CheckStatus = {
  CHECK_STATUS_UNSPECIFIED: 'CHECK_STATUS_UNSPECIFIED',
  CHECK_OK: 'CHECK_OK',
  CHECK_WARN: 'CHECK_WARN',
  CHECK_FAIL: 'CHECK_FAIL',
} as const;

export type CheckStatus =
  | 'CHECK_STATUS_UNSPECIFIED'
  | 0
  | 'CHECK_OK'
  | 1
  | 'CHECK_WARN'
  | 2
  | 'CHECK_FAIL'
  | 3

export type CheckStatus__Output = typeof CheckStatus[keyof typeof CheckStatus]
