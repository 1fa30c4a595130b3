import path from 'node:path';
import { resolveKubeletCommandLine } from '../../kubelet/index.ts';
import { flagsDropIn, type SystemdComponentSpec } from '../component.ts';
import { flagsDropInContent, planControlFlags } from '../control-flags.ts';
import { Codes, StepFailedError } from '../errors.ts';
import type { BackupManifest, RunRecord } from '../types.ts';
import { backupText, done, requireManifest, type StepBody, type StepContext, type StepResult } from './context.ts';
import { migrationInput } from './migration-input.ts';

/** The kubelet: agent/kubelet's planner edits the unit and environment files that define each flag. */
async function migrateKubelet(ctx: StepContext, rec: RunRecord, m: BackupManifest): Promise<StepResult> {
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
}

/** The command line of a unit as its backed-up files define it (variables expanded), after the program. */
export async function backedUpArgs(ctx: StepContext, rec: RunRecord, m: BackupManifest, c: SystemdComponentSpec): Promise<string[]> {
  const units: { path: string; content: string }[] = [];
  const envFiles: Record<string, string> = {};
  for (const e of m.entries) {
    if (!e.present) continue;
    const text = await backupText(ctx, rec, m, e.path);
    if (text === undefined) continue;
    if (m.environmentFiles.includes(e.path)) envFiles[e.path] = text;
    else if (e.path.endsWith('.service') || (e.path.endsWith('.conf') && e.path.includes(`/${c.unit}.d/`))) units.push({ path: e.path, content: text });
  }
  return resolveKubeletCommandLine({ units, envFiles }).words.slice(1).map((w) => w.text);
}

/**
 * Another systemd component: lib/knowledge/flags plans over the command line as the backed-up
 * files define it; a changed command line goes into one drop-in (FLAGS_DROP_IN) that resets
 * ExecStart=. The drop-in was absent at backup time (it is among the backed-up paths), so the
 * rollback removes it; a repeat writes the same content.
 */
async function migrateControlUnit(ctx: StepContext, rec: RunRecord, m: BackupManifest, c: SystemdComponentSpec): Promise<StepResult> {
  const args = await backedUpArgs(ctx, rec, m, c);
  const plan = planControlFlags({ component: c.name, from: rec.fromVersion, to: rec.toVersion, args, overrides: rec.options.allowDroppedFlags, keepServedApis: rec.options.keepServedApis ?? [] });
  const notes = [...plan.changes.map((x) => `${x.action} ${x.flag}: ${x.reason} [${x.citation}]`), ...plan.warnings];
  if (!plan.changed) return done(`no ${c.name} flag changes needed${notes.length ? `: ${notes.join('; ')}` : ''}`);
  const dropIn = flagsDropIn(c.unit);
  if (!m.entries.some((e) => e.path === dropIn)) throw new StepFailedError(Codes.FLAG_EDIT_OUTSIDE_BACKUP, `flag migration wants to write ${dropIn}, which is not in the backup`);
  const content = flagsDropInContent(rec.runId, c.binary, plan.args, notes);
  const target = ctx.host(dropIn);
  if ((await ctx.deps.fs.readText(target)) !== content) {
    await ctx.deps.fs.mkdirp(path.dirname(target));
    await ctx.deps.fs.writeAtomic(target, content, 0o644);
  }
  return done(`${dropIn} carries the migrated command line: ${notes.join('; ')}`);
}

/**
 * MIGRATE_FLAGS: planned from the originals in the backup, so repeating it writes the same
 * result. A static pod's flags change with its image, in SWAP_BINARY's one manifest write.
 */
export const migrateFlags: StepBody = async (ctx, rec) => {
  const c = ctx.component;
  if (!c.migratesFlags) return done(`${c.name} has no flag migration`);
  if (c.kind === 'static-pod') return done(`${c.name}'s flags are migrated with its image in one manifest write (SWAP_BINARY)`);
  const m = await requireManifest(ctx, rec);
  return c.flagTable === 'kubelet' ? migrateKubelet(ctx, rec, m) : migrateControlUnit(ctx, rec, m, c);
};
