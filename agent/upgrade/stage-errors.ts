import { KipError } from '../../lib/errors.ts';

/** The caller asked for more than the node allows (the staging quota). gRPC: RESOURCE_EXHAUSTED. */
export class ResourceExhaustedError extends KipError {}

/** Stable codes of the staged store beyond agent/upgrade/errors.ts (part of the contract). */
export const StageCodes = {
  STAGE_BUSY: 'STAGE_BUSY',
  STAGE_QUOTA_EXCEEDED: 'STAGE_QUOTA_EXCEEDED',
  STAGE_VERSION_UNREADABLE: 'STAGE_VERSION_UNREADABLE',
  STAGE_ALREADY_STAGED_MISMATCH: 'STAGE_ALREADY_STAGED_MISMATCH',
  /** The binary is another component than the one it is staged as (its --help names it). */
  STAGE_WRONG_COMPONENT: 'STAGE_WRONG_COMPONENT',
} as const;
