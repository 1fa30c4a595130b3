import path from 'node:path';
import { Codes, KipError, StepFailedError } from '../errors.ts';
import { formatSkipFile, parseSkipFile } from '../skipfile.ts';
import type { BackupManifest, RunRecord } from '../types.ts';
import { backupText, locate, type StepBody, type StepContext, type StepResult } from './context.ts';

/**
 * The skip file the old kubelet gets back, or undefined to restore the one from before the run.
 * Once the new kubelet has been started it may have created or re-labelled containers with its
 * own hashes; the old one then compares every hash unless a skip file names another version
 * than its own (the patch skips a container when the file's version differs from the running
 * one and the container started before the running kubelet: cache_version.go and
 * kuberuntime_manager.go containerChanged in kubernetes-1.9.1.IgnoreContainerRestart.patch).
 * So the file names the version rolled back FROM (issue 8, defect 3), unless the file from before
 * the run already names another version than the old kubelet's: that one (an earlier step's,
 * naming the version whose hashes the oldest containers still carry) makes the old kubelet skip
 * every container started before it just the same, and it is put back as it was. Replacing it
 * lost the oldest version: the hash self-check of the next Upgrade and the Watch drift view
 * accept the hashes of the versions from the skip file's to the running one, so every container
 * still carrying an earlier step's hash was refused and the node could not be upgraded again.
 */
async function rollbackSkipContent(ctx: StepContext, rec: RunRecord, m: BackupManifest): Promise<{ content: string | undefined; why: string }> {
  const skipFile = ctx.component.skipFile;
  if (skipFile === undefined) return { content: undefined, why: '' };
  const started = rec.events.find((e) => e.step === 'START_KUBELET' && e.status === 'STEP_STARTED');
  if (!started) return { content: undefined, why: `the ${rec.toVersion} ${ctx.component.name} never started: skip file restored as it was` };
  if (!(await ctx.deps.kubelet.isPatched(ctx.host(ctx.component.binary), skipFile))) {
    return { content: undefined, why: `the restored ${rec.fromVersion} binary does not carry the skip-file patch: skip file restored as it was` };
  }
  const original = parseSkipFile(skipFile, await backupText(ctx, rec, m, skipFile));
  if (original.valid && original.version !== rec.fromVersion) {
    return { content: undefined, why: `kept the skip file from before the run (${original.version}): the ${rec.fromVersion} ${ctx.component.name} skips every container started before it` };
  }
  const content = formatSkipFile(rec.toVersion, Math.floor(started.atUnixMs / 1000));
  return { content, why: `wrote ${content} so the ${rec.fromVersion} ${ctx.component.name} skips every container started before it` };
}

/**
 * ROLLBACK_RESTORE: every backed-up path back as it was (absent stays absent), each copy verified
 * against the manifest while copying, so a damaged backup never replaces a file.
 */
export const restore: StepBody = async (ctx, rec) => {
  const fs = ctx.deps.fs;
  const m = await ctx.runs.loadManifest(rec.runId);
  if (!m) return { message: 'no backup was taken: nothing to restore', record: { rollbackSkipFile: '' }, facts: { skipFileWritten: '' } };
  const dir = path.join(ctx.runs.backupDir(rec.runId), 'files');
  let restored = 0;
  const skipFile = ctx.component.skipFile;
  // Files first (the binary among them), so the patch check below reads the restored binary.
  const ordered = [...m.entries].sort((a, b) => Number(a.path === skipFile) - Number(b.path === skipFile));
  let skip: { content: string | undefined; why: string } | undefined;
  for (const e of ordered) {
    // A held static pod's manifest goes back where Hold keeps it (Release moves it back).
    const target = ctx.host(await locate(ctx, e.path));
    if (e.path === skipFile) {
      skip = await rollbackSkipContent(ctx, rec, m);
      if (skip.content !== undefined) {
        if ((await fs.readText(target)) !== skip.content) {
          await fs.mkdirp(path.dirname(target));
          await fs.writeAtomic(target, skip.content, 0o644);
        }
        continue;
      }
    }
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
  const written = skip?.content ?? '';
  const result: StepResult = {
    message: `restored ${restored} of ${m.entries.length} paths from the backup${skip?.why ? `; ${skip.why}` : ''}`,
    record: { rollbackSkipFile: written },
    facts: { skipFileWritten: written },
  };
  return result;
};
