import { Codes } from '../errors.ts';
import type { RunRecord } from '../types.ts';
import { verifyComponent } from '../verify.ts';
import { done, type StepBody, type StepContext, type StepResult } from './context.ts';

async function verifyAs(ctx: StepContext, rec: RunRecord, expect: string, code: string): Promise<StepResult> {
  const v = await verifyComponent(ctx, expect, rec.options.verifyTimeoutMs, code);
  // The message keeps "first healthy at" for people reading the journal; callers read the facts.
  return done(`${expect} active and healthy for ${v.stableForMs} ms (pid ${v.mainPid}); first healthy at ${v.firstHealthyAtUnixMs}`, {
    firstHealthyAtUnixMs: v.firstHealthyAtUnixMs,
    mainPid: v.mainPid,
  });
}

/** VERIFY: the new version runs and stays healthy; otherwise the run rolls back. */
export const verifyNew: StepBody = (ctx, rec) => verifyAs(ctx, rec, rec.toVersion, Codes.VERIFY_FAILED);

/** ROLLBACK_VERIFY: the old version runs again; otherwise the run needs an operator. */
export const verifyOld: StepBody = (ctx, rec) => verifyAs(ctx, rec, rec.fromVersion, Codes.ROLLBACK_VERIFY_FAILED);
