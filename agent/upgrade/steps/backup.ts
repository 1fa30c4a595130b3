import path from 'node:path';
import { Codes, StepFailedError } from '../errors.ts';
import type { BackupEntry, BackupManifest } from '../types.ts';
import { done, locate, type StepBody, type StepContext } from './context.ts';

async function manifestIntact(ctx: StepContext, m: BackupManifest): Promise<boolean> {
  const dir = path.join(ctx.runs.backupDir(m.runId), 'files');
  for (const e of m.entries) {
    if (!e.present || !e.copy) continue;
    if ((await ctx.deps.fs.sha256(path.join(dir, e.copy))) !== e.sha256) return false;
  }
  return true;
}

/**
 * BACKUP: copies the binary, the skip file (or its absence), the unit file, drop-ins, environment
 * files and the component's other paths, with a manifest of checksums and the old process's start
 * time. Changes nothing on the node. A complete, intact backup is kept when repeated.
 */
export const backup: StepBody = async (ctx, rec) => {
  const c = ctx.component;
  const existing = await ctx.runs.loadManifest(rec.runId);
  if (existing && (await manifestIntact(ctx, existing))) return done(`backup already complete (${existing.entries.length} paths)`);
  const dir = ctx.runs.backupDir(rec.runId);
  await ctx.deps.fs.removeTree(dir);
  await ctx.deps.fs.mkdirp(path.join(dir, 'files'));
  // A static pod's unit is the kubelet's: its files are not the component's (the manifest is).
  const unit = c.kind === 'systemd' ? await ctx.deps.systemd.unitInfo(c.unit) : undefined;
  const oldStartUnixSec = Math.floor((unit?.execMainStartUsec ?? 0) / 1_000_000);
  // Only the skip file needs the old process's start (a held component is stopped on purpose).
  if (c.skipFile !== undefined && oldStartUnixSec <= 0) throw new StepFailedError(Codes.KUBELET_NOT_ACTIVE, `${c.unit} has no start time (not running)`);
  const own = unit ? [c.binary, unit.fragmentPath, ...unit.dropInPaths, ...unit.environmentFiles] : c.kind === 'static-pod' ? [c.manifest] : [];
  const paths = [...new Set([...own, c.skipFile ?? '', ...c.backupPaths].filter((p) => p !== ''))];
  const entries: BackupEntry[] = [];
  for (const [i, p] of paths.entries()) {
    // A held static pod's manifest is read where Hold keeps it; the entry names the live path.
    const from = ctx.host(await locate(ctx, p));
    const st = await ctx.deps.fs.stat(from);
    if (!st) {
      entries.push({ path: p, present: false });
      continue;
    }
    const copy = String(i).padStart(2, '0');
    const target = path.join(dir, 'files', copy);
    await ctx.deps.fs.copyAtomic(from, target, st.mode);
    const sha = await ctx.deps.fs.sha256(target);
    entries.push({ path: p, present: true, copy, sha256: sha ?? '', size: st.size, mode: st.mode });
  }
  const manifest: BackupManifest = {
    runId: rec.runId,
    createdAtMs: ctx.deps.clock.now(),
    entries,
    execStart: unit?.execStart ?? [],
    environmentFiles: unit?.environmentFiles ?? [],
    oldStartUnixSec,
  };
  await ctx.deps.fs.fsyncDir(path.join(dir, 'files'));
  await ctx.runs.saveManifest(manifest);
  return done(`backed up ${entries.filter((e) => e.present).length} files (${entries.filter((e) => !e.present).length} absent) with checksums`);
};
