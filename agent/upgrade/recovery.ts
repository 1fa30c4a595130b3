/**
 * Start-up recovery: stale partial copies beside the binary go, and every interrupted run is
 * finished (resumed or rolled back, per `recovery`). Runs are found by listing the journal, not
 * only by current-run: a crash between saving a new run and marking it current leaves a run no
 * marker names (issue 8, defect 7). A journal write that fails never keeps the component
 * stopped: the machine starts it with the binary on disk and reports (defect 5).
 */
import path from 'node:path';
import type { Logger } from '../../lib/logger.ts';
import { TEMP_MARK, type FileSystem } from './fs.ts';
import type { Machine } from './machine.ts';
import type { RunLog } from './run-log.ts';
import { isTerminal, type RunRecord } from './types.ts';

export interface RecoveryEnv {
  readonly log: RunLog;
  readonly machine: Machine;
  readonly logger: Logger;
  readonly fs: FileSystem;
  readonly recovery: 'resume' | 'rollback';
  /** The component's binary (host path). */
  readonly binary: string;
  /** Marks the run being recovered as the one this process drives. */
  hold(runId: string): void;
}

export async function removeStaleTemps(env: RecoveryEnv): Promise<void> {
  const dir = path.dirname(env.binary);
  const prefix = `${TEMP_MARK}${path.basename(env.binary)}.`;
  for (const name of await env.fs.list(dir)) {
    if (name.startsWith(prefix)) {
      env.logger.warn({ file: name }, 'removing a partial binary copy left by a crash');
      await env.fs.remove(path.join(dir, name));
    }
  }
}

/** Non-terminal runs, the current one first, then by start time. */
export async function unfinishedRuns(env: RecoveryEnv): Promise<RunRecord[]> {
  const store = env.log.store;
  const current = await store.currentId().catch(() => undefined);
  const out: RunRecord[] = [];
  for (const id of await store.listIds()) {
    try {
      const rec = await store.load(id);
      if (rec && !isTerminal(rec.phase)) out.push(rec);
    } catch (err) {
      env.logger.error({ err, runId: id }, 'unreadable run journal; it is left as it is');
    }
  }
  return out.sort((a, b) => Number(b.runId === current) - Number(a.runId === current) || a.startedAtMs - b.startedAtMs);
}

/** Drives each run to a terminal phase, one after the other. */
export async function recoverRuns(env: RecoveryEnv, runs: readonly RunRecord[]): Promise<void> {
  for (const rec of runs) {
    env.hold(rec.runId);
    env.log.remember(rec);
    let next = rec;
    try {
      if ((await env.log.store.currentId()) !== rec.runId) await env.log.store.setCurrent(rec.runId);
      if (rec.phase === 'RUN_RUNNING' && env.recovery === 'rollback') {
        next = await env.log.patch(rec, { phase: 'RUN_ROLLING_BACK', errorCode: 'AGENT_RESTARTED', errorMessage: `the agent restarted during ${rec.step}; rolling back as configured` });
      }
    } catch (err) {
      await env.machine.abandon(rec.runId, err);
      continue;
    }
    env.logger.warn({ runId: rec.runId, step: rec.step, stepStatus: rec.stepStatus, phase: next.phase }, 'recovering interrupted run');
    await env.machine.drive(next.runId);
  }
}
