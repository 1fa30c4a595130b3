import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execaExec, type Exec } from '../../lib/exec.ts';
import { silentLogger, type Logger } from '../../lib/logger.ts';
import { discoverCgroupHierarchies, isErrno, isProcessAlive, NodeCgroup } from './cgroup.ts';
import { NspawnError } from './errors.ts';
import { CGROUP_PARENT, mountEntries, unmount } from './node.ts';

export interface ReapResult {
  /** Cgroup leaf names whose processes were killed and directories removed. */
  readonly cgroups: readonly string[];
  /** Overlay roots that were unmounted. */
  readonly mounts: readonly string[];
}

/**
 * Cleans up after processes that died without stopping their nodes (a crashed test worker,
 * a killed lab): kills every node whose creating process is gone, removes its cgroup and
 * unmounts its overlay. Nodes of live processes are left alone.
 */
export async function reapOrphanedNodes(options: { exec?: Exec; logger?: Logger } = {}): Promise<ReapResult> {
  const exec = options.exec ?? execaExec;
  const logger = options.logger ?? silentLogger();
  const hierarchies = await discoverCgroupHierarchies();
  const leaves = new Set<string>();
  for (const root of [hierarchies.unified, hierarchies.systemdV1]) {
    if (root === undefined) continue;
    try {
      for (const e of await readdir(join(root, CGROUP_PARENT), { withFileTypes: true })) if (e.isDirectory()) leaves.add(e.name);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
  }
  const cgroups: string[] = [];
  for (const leaf of leaves) {
    const pid = Number(/^(\d+)-/.exec(leaf)?.[1] ?? NaN);
    if (!Number.isInteger(pid) || isProcessAlive(pid)) continue;
    const cgroup = new NodeCgroup(hierarchies, join(CGROUP_PARENT, leaf));
    const deadline = Date.now() + 15_000;
    for (;;) {
      const left = await cgroup.pids();
      if (left.length === 0) break;
      if (Date.now() > deadline) throw new NspawnError('NSPAWN_STOP_FAILED', `orphaned node ${leaf} survives SIGKILL: ${left.join(' ')}`, { leaf, pids: left });
      await cgroup.killAll();
      await new Promise((r) => setTimeout(r, 100));
    }
    await cgroup.remove();
    cgroups.push(leaf);
    logger.warn({ cgroup: leaf, creatorPid: pid }, 'reaped orphaned nspawn node');
  }
  const mounts: string[] = [];
  for (const m of await mountEntries()) {
    const pid = Number(/^kipnode-(\d+)-/.exec(m.source)?.[1] ?? NaN);
    if (m.fsType !== 'overlay' || !Number.isInteger(pid) || isProcessAlive(pid)) continue;
    await unmount(m.mountPoint, exec);
    mounts.push(m.mountPoint);
    logger.warn({ root: m.mountPoint, creatorPid: pid }, 'unmounted orphaned nspawn node root');
  }
  return { cgroups, mounts };
}
