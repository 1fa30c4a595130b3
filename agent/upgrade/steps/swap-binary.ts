import { createHash } from 'node:crypto';
import { ManifestInvalidError, planManifestStep, rewriteStaticPodManifest } from '../../components/index.ts';
import { runtimeConfigEntries } from '../control-flags.ts';
import { Codes, StepFailedError } from '../errors.ts';
import { withRuntimeConfig } from '../../../lib/knowledge/flags/index.ts';
import type { RunRecord } from '../types.ts';
import { backupText, done, locate, requireManifest, type StepBody, type StepContext, type StepResult } from './context.ts';

/**
 * A static pod: the manifest's image tag and flags rewritten in one atomic write (temp, fsync,
 * rename: the kubelet never reads half a file), planned from the backed-up original, so a
 * repeat after a crash writes the same bytes.
 */
async function swapManifest(ctx: StepContext, rec: RunRecord): Promise<StepResult> {
  const c = ctx.component;
  if (c.kind !== 'static-pod') throw new Error('not a static pod');
  const m = await requireManifest(ctx, rec);
  const original = await backupText(ctx, rec, m, c.manifest);
  if (original === undefined) throw new ManifestInvalidError(c.manifest, 'it is not in the backup');
  const step = planManifestStep({ text: original, path: c.manifest, component: c.name, to: rec.toVersion, overrides: rec.options.allowDroppedFlags });
  let text = step.text;
  const keep = runtimeConfigEntries(c.name, rec.toVersion, rec.options.keepServedApis ?? []);
  if (keep.length > 0) text = rewriteStaticPodManifest(text, c.manifest, c.name, { args: withRuntimeConfig(step.flags.args, keep).args });
  const sha = createHash('sha256').update(text).digest('hex');
  const where = await locate(ctx, c.manifest);
  const target = ctx.host(where);
  const mode = (m.entries.find((e) => e.path === c.manifest)?.mode ?? 0o600) & 0o7777;
  if ((await ctx.deps.fs.readText(target)) === text) return { message: `${where} already runs ${step.image}`, record: { installedSha256: sha } };
  await ctx.deps.fs.writeAtomic(target, text, mode);
  const flags = step.flags.changes.map((x) => `${x.action} ${x.flag}`).join(', ');
  return { message: `${where} now runs ${step.image}${flags ? ` (flags: ${flags})` : ''}`, record: { installedSha256: sha } };
}

/** SWAP_BINARY: the binary path never holds a partial or wrong file (copy beside, verify, rename). */
export const swapBinary: StepBody = async (ctx, rec) => {
  const c = ctx.component;
  if (c.kind === 'static-pod') return swapManifest(ctx, rec);
  const bin = c.binary;
  const target = ctx.host(bin);
  const staged = await ctx.deps.stage.get(rec.toVersion, c.name);
  if (!staged) throw new StepFailedError(Codes.NOT_STAGED, `the ${rec.toVersion} binary is no longer staged`);
  // Hash the current binary only when the sizes agree (the unit is stopped: every ms counts).
  const current = await ctx.deps.fs.stat(target);
  if (current?.size === staged.size && (await ctx.deps.fs.sha256(target)) === rec.targetSha256) return { ...done(`${bin} is already ${rec.toVersion}`), record: { installedSha256: rec.targetSha256 } };
  await ctx.deps.fs.copyAtomicVerified(staged.path, target, 0o755, rec.targetSha256);
  return { ...done(`${bin} is now ${rec.toVersion}`), record: { installedSha256: rec.targetSha256 } };
};
