import { InvalidInputError, KipError } from '../../lib/errors.ts';

export { InvalidInputError, KipError };

/**
 * The node is not in a state that allows the call (a run in progress, kubelet not active, ...).
 * Nothing was changed. gRPC: FAILED_PRECONDITION.
 */
export class PreconditionError extends KipError {}

/** The thing asked for does not exist (unknown run id, binary not staged). gRPC: NOT_FOUND. */
export class NotFoundError extends KipError {}

/** A step of a run failed; the run rolls back (or needs an operator when rollback fails). gRPC: ABORTED. */
export class StepFailedError extends KipError {}

/** Stable error codes raised by agent/upgrade (part of the contract: never rename one). */
export const Codes = {
  VERSION_INVALID: 'VERSION_INVALID',
  VERSION_PLACEHOLDER: 'VERSION_PLACEHOLDER',
  SKEW_TOO_LARGE: 'SKEW_TOO_LARGE',
  DOWNGRADE_REFUSED: 'DOWNGRADE_REFUSED',
  ALREADY_AT_VERSION: 'ALREADY_AT_VERSION',
  STAGE_NO_METADATA: 'STAGE_NO_METADATA',
  STAGE_BAD_METADATA: 'STAGE_BAD_METADATA',
  STAGE_SIZE_MISMATCH: 'STAGE_SIZE_MISMATCH',
  STAGE_SHA256_MISMATCH: 'STAGE_SHA256_MISMATCH',
  STAGE_VERSION_MISMATCH: 'STAGE_VERSION_MISMATCH',
  STAGE_IN_USE: 'STAGE_IN_USE',
  NOT_STAGED: 'NOT_STAGED',
  STAGED_CORRUPT: 'STAGED_CORRUPT',
  SKIP_FILE_MALFORMED: 'SKIP_FILE_MALFORMED',
  PRIVATE_TMP: 'PRIVATE_TMP',
  UNPATCHED_BINARY: 'UNPATCHED_BINARY',
  KUBELET_NOT_ACTIVE: 'KUBELET_NOT_ACTIVE',
  KUBELET_VERSION_UNKNOWN: 'KUBELET_VERSION_UNKNOWN',
  RUN_IN_PROGRESS: 'RUN_IN_PROGRESS',
  RUN_ID_INVALID: 'RUN_ID_INVALID',
  RUN_ID_CONFLICT: 'RUN_ID_CONFLICT',
  RUN_NOT_FOUND: 'RUN_NOT_FOUND',
  ROLLBACK_NOT_LAST_RUN: 'ROLLBACK_NOT_LAST_RUN',
  ROLLBACK_NODE_CHANGED: 'ROLLBACK_NODE_CHANGED',
  BACKUP_CORRUPT: 'BACKUP_CORRUPT',
  FLAG_MIGRATION_REFUSED: 'FLAG_MIGRATION_REFUSED',
  FLAG_EDIT_OUTSIDE_BACKUP: 'FLAG_EDIT_OUTSIDE_BACKUP',
  VERIFY_FAILED: 'VERIFY_FAILED',
  ROLLBACK_VERIFY_FAILED: 'ROLLBACK_VERIFY_FAILED',
  STATE_CORRUPT: 'STATE_CORRUPT',
  JOURNAL_UNWRITABLE: 'JOURNAL_UNWRITABLE',
} as const;
