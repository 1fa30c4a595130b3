/** What a step body gets: the component it acts on, the node's ports, the journal store. */
import path from 'node:path';
import type { Logger } from '../../../lib/logger.ts';
import type { ComponentSpec } from '../component.ts';
import type { UpgradeAgentDeps } from '../config.ts';
import { Codes, StepFailedError } from '../errors.ts';
import type { RunStore } from '../runstore.ts';
import type { BackupManifest, RunRecord, StepFacts } from '../types.ts';

export interface StepContext {
  readonly component: ComponentSpec;
  readonly deps: UpgradeAgentDeps;
  readonly runs: RunStore;
  /** A node path as this process sees it (under the configured root prefix). */
  readonly host: (nodePath: string) => string;
  readonly stableMs: number;
  readonly pollMs: number;
  readonly log: Logger;
}

export interface StepResult {
  readonly message: string;
  readonly facts?: StepFacts;
  /** What the step records in the run (journaled with its STEP_DONE). */
  readonly record?: Partial<Pick<RunRecord, 'rollbackSkipFile'>>;
}

/** One step's action. Safe to repeat: after a crash the machine runs the journaled step again. */
export type StepBody = (ctx: StepContext, rec: RunRecord) => Promise<StepResult>;

export function done(message: string, facts?: StepFacts): StepResult {
  return facts ? { message, facts } : { message };
}

export async function requireManifest(ctx: StepContext, rec: RunRecord): Promise<BackupManifest> {
  const m = await ctx.runs.loadManifest(rec.runId);
  if (!m) throw new StepFailedError(Codes.BACKUP_CORRUPT, `the backup of run ${rec.runId} is missing`);
  return m;
}

/** The backed-up content of a node path, or undefined when it was absent (or not backed up). */
export async function backupText(ctx: StepContext, rec: RunRecord, m: BackupManifest, nodePath: string): Promise<string | undefined> {
  const e = m.entries.find((x) => x.path === nodePath);
  if (!e || !e.present || !e.copy) return undefined;
  return ctx.deps.fs.readText(path.join(ctx.runs.backupDir(rec.runId), 'files', e.copy));
}
