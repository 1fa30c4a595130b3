import path from 'node:path';
import { Codes, StepFailedError } from '../errors.ts';
import { formatSkipFile, parseSkipFile } from '../skipfile.ts';
import { backupText, done, requireManifest, type StepBody } from './context.ts';

/**
 * WRITE_SKIP_FILE: keeps a valid file naming another version than the target (an earlier step's
 * file still covers older containers), otherwise writes `<old version>,<old start unix seconds>`.
 * Decided from the backed-up original, so a repeat after a crash writes the same content.
 */
export const writeSkipFile: StepBody = async (ctx, rec) => {
  const skipFile = ctx.component.skipFile;
  if (skipFile === undefined) return done(`${ctx.component.name} reads no skip file`);
  const m = await requireManifest(ctx, rec);
  const original = parseSkipFile(skipFile, await backupText(ctx, rec, m, skipFile));
  const file = ctx.host(skipFile);
  if (original.present && !original.valid) throw new StepFailedError(Codes.SKIP_FILE_MALFORMED, `the skip file was malformed: ${original.problem}`);
  let content: string;
  let why: string;
  if (original.valid && original.version !== rec.toVersion) {
    content = original.raw;
    why = `kept the existing skip file (${original.version})`;
  } else {
    content = formatSkipFile(rec.fromVersion, m.oldStartUnixSec);
    why = `wrote ${content}`;
  }
  if ((await ctx.deps.fs.readText(file)) !== content) {
    await ctx.deps.fs.mkdirp(path.dirname(file));
    await ctx.deps.fs.writeAtomic(file, content, 0o644);
  }
  return done(why);
};
