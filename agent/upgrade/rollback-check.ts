/**
 * Whether Rollback(run_id) may act, from the run's journal and the node (no change made here):
 * only the last run (or one whose later runs were all rolled back), never one in progress, and after a finished run only while the file it
 * installed is still there (kip never rolls back over a change it did not make).
 */
import { Codes, PreconditionError } from './errors.ts';
import type { StepContext } from './steps/index.ts';
import type { RunRecord } from './types.ts';

/** `done`: already rolled back; `wait`: a rollback is being driven; `go`: start one. */
export type RollbackDecision = 'done' | 'wait' | 'go';

/**
 * The runs that keep `rec` from being rolled back: those started after it that are not rolled
 * back. A later run already rolled back changed nothing that stays (kip rollback undoes a node's
 * kube-proxy run, then its kubelet run: the kubelet's is not the last run any more, but nothing of
 * the kube-proxy run is left over it).
 */
export function runsOverIt(rec: RunRecord, runs: readonly RunRecord[]): RunRecord[] {
  return runs.filter((r) => r.runId !== rec.runId && r.startedAtMs >= rec.startedAtMs && r.phase !== 'RUN_ROLLED_BACK').sort((a, b) => a.startedAtMs - b.startedAtMs);
}

/** `runs`: every run journaled on the node (to see whether the runs after `rec` were all rolled back). */
export async function rollbackDecision(rec: RunRecord, lastRunId: string | undefined, ctx: StepContext, runs: readonly RunRecord[] = []): Promise<RollbackDecision> {
  const runId = rec.runId;
  const last = runs.find((r) => r.runId === lastRunId);
  const laterUndone = last !== undefined && last.startedAtMs >= rec.startedAtMs && runsOverIt(rec, runs).length === 0;
  if (lastRunId !== runId && !laterUndone) {
    const blocking = runsOverIt(rec, runs).at(-1)?.runId ?? lastRunId;
    throw new PreconditionError(Codes.ROLLBACK_NOT_LAST_RUN, `run ${runId} is not the last run on this node (${lastRunId ?? 'none'}); roll back ${blocking ?? 'nothing'} first`, { runId, last: lastRunId });
  }
  switch (rec.phase) {
    case 'RUN_ROLLED_BACK':
      return 'done';
    case 'RUN_RUNNING':
      throw new PreconditionError(Codes.RUN_IN_PROGRESS, `run ${runId} is in progress; it rolls back by itself if the new kubelet fails verification`, { runId });
    case 'RUN_ROLLING_BACK':
      return 'wait';
    case 'RUN_SUCCEEDED': {
      const spec = ctx.component;
      const file = spec.kind === 'static-pod' ? ((await ctx.isHeld()) ? spec.heldManifest : spec.manifest) : spec.binary;
      const sha = await ctx.deps.fs.sha256(ctx.host(file));
      if (sha !== (rec.installedSha256 ?? rec.targetSha256)) {
        throw new PreconditionError(Codes.ROLLBACK_NODE_CHANGED, `${file} is no longer the file run ${runId} installed; refusing to roll back over a change kip did not make`, { runId });
      }
      return 'go';
    }
    case 'RUN_FAILED':
      return 'go';
  }
}
