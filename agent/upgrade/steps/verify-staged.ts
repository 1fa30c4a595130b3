import { Codes, StepFailedError } from '../errors.ts';
import { parseSkipFile } from '../skipfile.ts';
import { done, type StepBody } from './context.ts';

/** VERIFY_STAGED: the staged binary is still the one the run was started with. Changes nothing. */
export const verifyStaged: StepBody = async (ctx, rec) => {
  const staged = await ctx.deps.stage.get(rec.toVersion);
  if (!staged) throw new StepFailedError(Codes.NOT_STAGED, `the ${rec.toVersion} binary is no longer staged`);
  const sha = await ctx.deps.fs.sha256(staged.path);
  if (sha !== rec.targetSha256) throw new StepFailedError(Codes.STAGED_CORRUPT, `staged ${rec.toVersion} has sha256 ${sha ?? 'none'}, expected ${rec.targetSha256}`);
  const printed = await ctx.deps.kubelet.version(staged.path);
  if (printed !== rec.toVersion) throw new StepFailedError(Codes.STAGED_CORRUPT, `staged binary prints ${printed}, expected ${rec.toVersion}`);
  const skipFile = ctx.component.skipFile;
  if (skipFile !== undefined) {
    const skip = parseSkipFile(skipFile, await ctx.deps.fs.readText(ctx.host(skipFile)));
    if (skip.present && !skip.valid) throw new StepFailedError(Codes.SKIP_FILE_MALFORMED, `the skip file is malformed: ${skip.problem}`);
  }
  return done(`staged ${rec.toVersion} verified (sha256 ${sha})`);
};
