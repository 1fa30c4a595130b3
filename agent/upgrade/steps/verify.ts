import { Codes } from '../errors.ts';
import type { RunRecord } from '../types.ts';
import { verifyComponent } from '../verify.ts';
import { verifyStaticPod } from '../verify-static-pod.ts';
import { assertKubeletSeesSkipFile } from '../visibility.ts';
import { done, skippedHeld, type StepBody, type StepContext, type StepResult } from './context.ts';

/** When `step` first started in this run (unix ms), or 0. */
function startedAt(rec: RunRecord, step: string): number {
  return rec.events.find((e) => e.step === step && e.status === 'STEP_STARTED')?.atUnixMs ?? 0;
}

export async function verifyAs(ctx: StepContext, rec: RunRecord, expect: string, code: string, onUp?: (pid: number) => Promise<string | undefined>, sinceMs = 0): Promise<StepResult> {
  const c = ctx.component;
  const v = c.kind === 'static-pod' ? await verifyStaticPod(ctx, expect, rec.options.verifyTimeoutMs, code, sinceMs) : await verifyComponent(ctx, expect, rec.options.verifyTimeoutMs, code, onUp);
  // The message keeps "first healthy at" for people reading the journal; callers read the facts.
  return done(`${expect} active and healthy for ${v.stableForMs} ms (${c.kind === 'static-pod' ? 'static pod' : `pid ${v.mainPid}`}); first healthy at ${v.firstHealthyAtUnixMs}${v.note ? `; ${v.note}` : ''}`, {
    firstHealthyAtUnixMs: v.firstHealthyAtUnixMs,
    mainPid: v.mainPid,
  });
}

/**
 * VERIFY: the new version runs and stays healthy, and sees the skip file the run wrote (the
 * same file, as its /proc/<pid>/root shows it); otherwise the run rolls back. A held component is
 * not running: Release verifies it.
 */
export const verifyNew: StepBody = async (ctx, rec) => {
  if (await ctx.isHeld()) return skippedHeld('verify');
  const skipFile = ctx.component.skipFile;
  // An unpatched kubelet (allow_unpatched) reads no skip file: nothing to see.
  const patched = skipFile !== undefined && (await ctx.deps.stage.get(rec.toVersion))?.patched === true;
  const onUp = patched ? (pid: number) => assertKubeletSeesSkipFile(ctx.deps, ctx.component, skipFile, ctx.host, pid, rec.toVersion) : undefined;
  return verifyAs(ctx, rec, rec.toVersion, Codes.VERIFY_FAILED, onUp, startedAt(rec, 'SWAP_BINARY'));
};

/** ROLLBACK_VERIFY: the old version runs again; otherwise the run needs an operator. */
export const verifyOld: StepBody = async (ctx, rec) => {
  if (await ctx.isHeld()) return skippedHeld('verify');
  // The old container may never have been replaced (the kubelet had not acted yet): any running one counts.
  return verifyAs(ctx, rec, rec.fromVersion, Codes.ROLLBACK_VERIFY_FAILED);
};
