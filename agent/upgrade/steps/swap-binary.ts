import { Codes, StepFailedError } from '../errors.ts';
import { done, type StepBody } from './context.ts';

/** SWAP_BINARY: the binary path never holds a partial or wrong file (copy beside, verify, rename). */
export const swapBinary: StepBody = async (ctx, rec) => {
  const bin = ctx.component.binary;
  const target = ctx.host(bin);
  const staged = await ctx.deps.stage.get(rec.toVersion);
  if (!staged) throw new StepFailedError(Codes.NOT_STAGED, `the ${rec.toVersion} binary is no longer staged`);
  // Hash the current binary only when the sizes agree (the unit is stopped: every ms counts).
  const current = await ctx.deps.fs.stat(target);
  if (current?.size === staged.size && (await ctx.deps.fs.sha256(target)) === rec.targetSha256) return done(`${bin} is already ${rec.toVersion}`);
  await ctx.deps.fs.copyAtomicVerified(staged.path, target, 0o755, rec.targetSha256);
  return done(`${bin} is now ${rec.toVersion}`);
};
