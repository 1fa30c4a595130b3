/**
 * Release waits for the component to run healthy again, in both cases:
 * - the last run swapped it while it was held: the run skipped start and verify, so Release waits
 *   for the new version (the verification VERIFY does) and journals the outcome in the run. Not
 *   healthy in time: COMPONENT_UNHEALTHY naming the run; Rollback(run_id) restores the old binary
 *   or manifest and starts it (the run is SUCCEEDED and its installed file is still in place).
 * - a plain Hold/Release (no run swapped it): Release waits for the version it runs (as discovery
 *   reads it) to come back healthy, so the coordinator's Release of the controllers means "they
 *   run again", not "their start job was queued". Not healthy in time: COMPONENT_UNHEALTHY with
 *   no run to roll back (nothing of it changed while held: its own journal says why).
 */
import { Codes, StepFailedError } from './errors.ts';
import { toKipError } from './kip-error.ts';
import type { RunLog } from './run-log.ts';
import { verifyAs } from './steps/verify.ts';
import type { StepContext } from './steps/index.ts';
import type { RunRecord } from './types.ts';
import { verifyComponent } from './verify.ts';
import { verifyStaticPod } from './verify-static-pod.ts';

export const COMPONENT_UNHEALTHY = 'COMPONENT_UNHEALTHY';

/** Not healthy after Release; the node is as Release left it. gRPC: ABORTED (like a failed step). */
export class ComponentUnhealthyError extends StepFailedError {}

/** `rec` (the last run) swapped `name` while it was held, and no Release has verified it since. */
export function isUnverifiedHeldSwap(rec: RunRecord, name: string): boolean {
  return rec.component === name && rec.heldAtStart === true && rec.phase === 'RUN_SUCCEEDED' && rec.releasedAtMs === undefined;
}

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

/**
 * After a plain Release: the component's `version` runs healthy within `timeoutMs`. A static pod
 * must run a container created after `heldSinceMs` (the kubelet stopped the old one when Hold
 * moved its manifest away); a systemd unit must be active on the binary and stable.
 */
export async function verifyReleasedPlain(ctx: StepContext, version: string, timeoutMs: number, heldSinceMs: number): Promise<void> {
  const c = ctx.component;
  try {
    if (c.kind === 'static-pod') await verifyStaticPod(ctx, version, timeoutMs, Codes.VERIFY_FAILED, heldSinceMs);
    else await verifyComponent(ctx, version, timeoutMs, Codes.VERIFY_FAILED);
  } catch (err) {
    const k = toKipError(err);
    const where = c.kind === 'static-pod' ? `the kubelet's journal (${c.unit})` : `its journal (journalctl -u ${c.unit})`;
    throw new ComponentUnhealthyError(
      COMPONENT_UNHEALTHY,
      `${c.name} ${version || '(version unknown)'} did not run healthy after Release (${k.message}); no kip run changed it while it was held: see ${where}, or Hold it again to stop it`,
      { component: c.name, cause: k.code },
    );
  }
}
