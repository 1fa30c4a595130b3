import { Codes } from '../errors.ts';
import type { RunRecord } from '../types.ts';
import { verifyComponent } from '../verify.ts';
import { assertKubeletSeesSkipFile } from '../visibility.ts';
import { done, type StepBody, type StepContext, type StepResult } from './context.ts';

async function verifyAs(ctx: StepContext, rec: RunRecord, expect: string, code: string, onUp?: (pid: number) => Promise<string | undefined>): Promise<StepResult> {
  const v = await verifyComponent(ctx, expect, rec.options.verifyTimeoutMs, code, onUp);
  // The message keeps "first healthy at" for people reading the journal; callers read the facts.
  return done(`${expect} active and healthy for ${v.stableForMs} ms (pid ${v.mainPid}); first healthy at ${v.firstHealthyAtUnixMs}${v.note ? `; ${v.note}` : ''}`, {
    firstHealthyAtUnixMs: v.firstHealthyAtUnixMs,
    mainPid: v.mainPid,
  });
}

/**
 * VERIFY: the new version runs and stays healthy, and sees the skip file the run wrote (the
 * same file, as its /proc/<pid>/root shows it); otherwise the run rolls back.
 */
export const verifyNew: StepBody = async (ctx, rec) => {
  const skipFile = ctx.component.skipFile;
  // An unpatched kubelet (allow_unpatched) reads no skip file: nothing to see.
  const patched = skipFile !== undefined && (await ctx.deps.stage.get(rec.toVersion))?.patched === true;
  const onUp = patched ? (pid: number) => assertKubeletSeesSkipFile(ctx.deps, ctx.component, skipFile, ctx.host, pid, rec.toVersion) : undefined;
  return verifyAs(ctx, rec, rec.toVersion, Codes.VERIFY_FAILED, onUp);
};

/** ROLLBACK_VERIFY: the old version runs again; otherwise the run needs an operator. */
export const verifyOld: StepBody = (ctx, rec) => verifyAs(ctx, rec, rec.fromVersion, Codes.ROLLBACK_VERIFY_FAILED);
