/**
 * Release of a component a run swapped while it was held: the run skipped start and verify, so
 * Release waits for the new version to run healthy (the same verification VERIFY does), and
 * journals the outcome in the run. A component that does not answer in time is reported with
 * COMPONENT_UNHEALTHY naming the run; Rollback(run_id) restores the old binary or manifest and
 * starts it (the run is SUCCEEDED and its installed file is still in place).
 */
import { Codes, StepFailedError } from './errors.ts';
import { toKipError } from './kip-error.ts';
import type { RunLog } from './run-log.ts';
import { verifyAs } from './steps/verify.ts';
import type { StepContext } from './steps/index.ts';
import type { RunRecord } from './types.ts';

export const COMPONENT_UNHEALTHY = 'COMPONENT_UNHEALTHY';

/** Not healthy after Release; the node is as Release left it. gRPC: ABORTED (like a failed step). */
export class ComponentUnhealthyError extends StepFailedError {}

export async function verifyReleasedRun(ctx: StepContext, rec: RunRecord, log: RunLog): Promise<void> {
  const c = ctx.component;
  try {
    await verifyAs(ctx, rec, rec.toVersion, Codes.VERIFY_FAILED, undefined, 0);
  } catch (err) {
    const k = toKipError(err);
    await log.patch(rec, { releaseError: `${k.code}: ${k.message}` });
    throw new ComponentUnhealthyError(
      COMPONENT_UNHEALTHY,
      `${c.name} ${rec.toVersion} did not run healthy after Release (${k.message}); roll it back with Rollback(run_id ${rec.runId}), which restores ${rec.fromVersion} and starts it`,
      { runId: rec.runId, component: c.name, cause: k.code },
    );
  }
  await log.patch(rec, { releasedAtMs: ctx.deps.clock.now() });
}
