/** What a step body gets: the component it acts on, the node's ports, the journal store. */
import path from 'node:path';
import type { Logger } from '../../../lib/logger.ts';
import type { ComponentSpec } from '../component.ts';
import type { UpgradeAgentDeps } from '../config.ts';
import { Codes, StepFailedError } from '../errors.ts';
import type { RunStore } from '../runstore.ts';
import { SKIPPED_HELD, type BackupManifest, type RunRecord, type StepFacts } from '../types.ts';

export interface StepContext {
  readonly component: ComponentSpec;
  readonly deps: UpgradeAgentDeps;
  readonly runs: RunStore;
  /** A node path as this process sees it (under the configured root prefix). */
  readonly host: (nodePath: string) => string;
  readonly stableMs: number;
  readonly pollMs: number;
  readonly log: Logger;
  /** True while the run's component is held (Hold): the run swaps it and leaves it stopped. */
  readonly isHeld: () => Promise<boolean>;
}

export interface StepResult {
  readonly message: string;
  readonly facts?: StepFacts;
  /** What the step records in the run (journaled with its STEP_DONE). */
  readonly record?: Partial<Pick<RunRecord, 'rollbackSkipFile' | 'installedSha256'>>;
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

/**
 * Where a node path is now: a held static pod's manifest lives in the hold directory, and the
 * run edits (and restores) it there; Release moves whatever is there back.
 */
export async function locate(ctx: StepContext, nodePath: string): Promise<string> {
  const c = ctx.component;
  if (c.kind === 'static-pod' && nodePath === c.manifest && (await ctx.isHeld())) return c.heldManifest;
  return nodePath;
}

export function skippedHeld(what: string): StepResult {
  return { message: `skipped: ${what} (the component is held; Release starts and verifies it)`, facts: { skipped: SKIPPED_HELD } };
}
