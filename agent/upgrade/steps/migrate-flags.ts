import { Codes, StepFailedError } from '../errors.ts';
import { backupText, done, requireManifest, type StepBody } from './context.ts';
import { migrationInput } from './migration-input.ts';

/** MIGRATE_FLAGS: planned from the originals in the backup, so repeating it writes the same result. */
export const migrateFlags: StepBody = async (ctx, rec) => {
  if (!ctx.component.migratesFlags) return done(`${ctx.component.name} has no flag migration`);
  const m = await requireManifest(ctx, rec);
  const fragment = m.entries.find((e) => e.path.endsWith('.service') && e.present);
  const unitShape = {
    execStart: m.execStart,
    environmentFiles: m.environmentFiles,
    fragmentPath: fragment?.path ?? '',
    dropInPaths: m.entries.filter((e) => e.path.endsWith('.conf') && e.present).map((e) => e.path),
  };
  const staged = await ctx.deps.stage.get(rec.toVersion);
  const input = await migrationInput(rec.fromVersion, rec.toVersion, unitShape, rec.options.allowDroppedFlags, staged?.path ?? '', (p) => backupText(ctx, rec, m, p));
  const plan = await ctx.deps.flags.plan(input);
  let written = 0;
  for (const edit of plan.edits) {
    const entry = m.entries.find((e) => e.path === edit.path && e.present);
    if (!entry) throw new StepFailedError(Codes.FLAG_EDIT_OUTSIDE_BACKUP, `flag migration wants to edit ${edit.path}, which is not in the backup`);
    const current = await ctx.deps.fs.readText(ctx.host(edit.path));
    if (current !== edit.content) {
      await ctx.deps.fs.writeAtomic(ctx.host(edit.path), edit.content, entry.mode);
      written += 1;
    }
  }
  const notes = plan.notes.length ? `: ${plan.notes.join('; ')}` : '';
  return done(`${plan.edits.length} file(s) migrated (${written} written now)${notes}`);
};
