import path from 'node:path';
import { Codes, KipError, StepFailedError } from '../errors.ts';
import { done, type StepBody } from './context.ts';

/**
 * ROLLBACK_RESTORE: every backed-up path back as it was (absent stays absent), each copy verified
 * against the manifest while copying, so a damaged backup never replaces a file.
 */
export const restore: StepBody = async (ctx, rec) => {
  const fs = ctx.deps.fs;
  const m = await ctx.runs.loadManifest(rec.runId);
  if (!m) return done('no backup was taken: nothing to restore');
  const dir = path.join(ctx.runs.backupDir(rec.runId), 'files');
  let restored = 0;
  for (const e of m.entries) {
    const target = ctx.host(e.path);
    if (!e.present || !e.copy) {
      if ((await fs.stat(target)) !== undefined) {
        await fs.remove(target);
        await fs.fsyncDir(path.dirname(target));
        restored += 1;
      }
      continue;
    }
    const copy = path.join(dir, e.copy);
    const want = e.sha256 ?? '';
    const cur = await fs.stat(target);
    if (cur !== undefined && cur.size === e.size && cur.mode === e.mode && (await fs.sha256(target)) === want) continue;
    await fs.mkdirp(path.dirname(target));
    try {
      await fs.copyAtomicVerified(copy, target, e.mode ?? 0o644, want);
    } catch (err) {
      if (err instanceof KipError && err.code === 'COPY_CHECKSUM_MISMATCH') {
        throw new StepFailedError(Codes.BACKUP_CORRUPT, `the backup copy of ${e.path} does not match its manifest checksum`, { path: e.path }, { cause: err });
      }
      throw err;
    }
    restored += 1;
  }
  return done(`restored ${restored} of ${m.entries.length} paths from the backup`);
};
