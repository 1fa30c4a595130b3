import { ManifestInvalidError, parseStaticPodManifest } from '../../components/index.ts';
import { Codes, StepFailedError } from '../errors.ts';
import { parseSkipFile } from '../skipfile.ts';
import { done, locate, type StepBody } from './context.ts';

/**
 * VERIFY_STAGED: the staged binary is still the one the run was started with; for a static pod
 * (whose "binary" is an image the kubelet pulls), the manifest still parses. Changes nothing.
 */
export const verifyStaged: StepBody = async (ctx, rec) => {
  const c = ctx.component;
  if (c.kind === 'static-pod') {
    const where = await locate(ctx, c.manifest);
    const text = await ctx.deps.fs.readText(ctx.host(where));
    if (text === undefined) throw new ManifestInvalidError(where, 'the file does not exist');
    const m = parseStaticPodManifest(text, where, c.name);
    return done(`${where} parses (image ${m.image}); the kubelet pulls the ${rec.toVersion} image`);
  }
  const staged = await ctx.deps.stage.get(rec.toVersion, c.name);
  if (!staged) throw new StepFailedError(Codes.NOT_STAGED, `the ${rec.toVersion} binary is no longer staged`);
  const sha = await ctx.deps.fs.sha256(staged.path);
  if (sha !== rec.targetSha256) throw new StepFailedError(Codes.STAGED_CORRUPT, `staged ${rec.toVersion} has sha256 ${sha ?? 'none'}, expected ${rec.targetSha256}`);
  const printed = await ctx.deps.kubelet.version(staged.path);
  if (printed !== rec.toVersion) throw new StepFailedError(Codes.STAGED_CORRUPT, `staged binary prints ${printed}, expected ${rec.toVersion}`);
  const skipFile = c.skipFile;
  if (skipFile !== undefined) {
    const skip = parseSkipFile(skipFile, await ctx.deps.fs.readText(ctx.host(skipFile)));
    if (skip.present && !skip.valid) throw new StepFailedError(Codes.SKIP_FILE_MALFORMED, `the skip file is malformed: ${skip.problem}`);
  }
  return done(`staged ${rec.toVersion} verified (sha256 ${sha})`);
};
