/** The body of every acting step, by name. The machine journals around them; they only act. */
import type { ActingStep } from '../types.ts';
import { backup } from './backup.ts';
import type { StepBody } from './context.ts';
import { migrateFlags } from './migrate-flags.ts';
import { restore } from './restore.ts';
import { rollbackStartUnit, startUnit } from './start.ts';
import { stopUnit } from './stop.ts';
import { swapBinary } from './swap-binary.ts';
import { verifyNew, verifyOld } from './verify.ts';
import { verifyStaged } from './verify-staged.ts';
import { writeSkipFile } from './write-skip-file.ts';

export const STEP_BODIES: Readonly<Record<ActingStep, StepBody>> = {
  VERIFY_STAGED: verifyStaged,
  BACKUP: backup,
  MIGRATE_FLAGS: migrateFlags,
  WRITE_SKIP_FILE: writeSkipFile,
  STOP_KUBELET: stopUnit,
  SWAP_BINARY: swapBinary,
  START_KUBELET: startUnit,
  VERIFY: verifyNew,
  ROLLBACK_STOP: stopUnit,
  ROLLBACK_RESTORE: restore,
  ROLLBACK_START: rollbackStartUnit,
  ROLLBACK_VERIFY: verifyOld,
};

export type { StepBody, StepContext, StepResult } from './context.ts';
