import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NspawnError } from './errors.ts';

/**
 * The cgroup hierarchies a node's nspawn must be moved into: the cgroup2 tree, and on a hybrid
 * host (cgroup v1 controllers plus /sys/fs/cgroup/unified) also the named v1 `name=systemd` tree.
 * nspawn creates its payload/supervisor sub-cgroups below the cgroup it was started in, so each
 * node started from its own cgroup keeps its processes apart from every other node's.
 */
export interface CgroupHierarchies {
  /** Mount point of the cgroup2 hierarchy (e.g. /sys/fs/cgroup or /sys/fs/cgroup/unified). */
  readonly unified: string;
  /** Mount point of the v1 name=systemd hierarchy, when the host is hybrid. */
  readonly systemdV1: string | undefined;
}

/** Reads /proc/self/mounts text and finds the hierarchies (pure). */
export function parseCgroupMounts(mounts: string): CgroupHierarchies {
  let unified: string | undefined;
  let systemdV1: string | undefined;
  for (const line of mounts.split('\n')) {
    const [, mountPoint, fsType, options] = line.split(' ');
    if (mountPoint === undefined || fsType === undefined) continue;
    if (fsType === 'cgroup2' && unified === undefined) unified = mountPoint;
    if (fsType === 'cgroup' && options !== undefined && options.split(',').includes('name=systemd')) systemdV1 = mountPoint;
  }
  if (unified === undefined) {
    throw new NspawnError('NSPAWN_CGROUP_FAILED', 'no cgroup2 hierarchy is mounted on this host', {});
  }
  return { unified, systemdV1 };
}

export async function discoverCgroupHierarchies(): Promise<CgroupHierarchies> {
  return parseCgroupMounts(await readFile('/proc/self/mounts', 'utf8'));
}

/** One node's cgroup, present in every hierarchy of the host. */
export class NodeCgroup {
  /** Absolute directories, one per hierarchy (cgroup2 first). */
  readonly dirs: readonly string[];

  constructor(hierarchies: CgroupHierarchies, relativePath: string) {
    const dirs = [join(hierarchies.unified, relativePath)];
    if (hierarchies.systemdV1 !== undefined) dirs.push(join(hierarchies.systemdV1, relativePath));
    this.dirs = dirs;
  }

  get unifiedDir(): string {
    const dir = this.dirs[0];
    if (dir === undefined) throw new NspawnError('NSPAWN_CGROUP_FAILED', 'node cgroup has no directory', {});
    return dir;
  }

  /** The cgroup.procs files a launcher writes its own pid into before it execs nspawn. */
  get procsFiles(): readonly string[] {
    return this.dirs.map((d) => join(d, 'cgroup.procs'));
  }

  async create(): Promise<void> {
    try {
      for (const dir of this.dirs) await mkdir(dir, { recursive: true });
    } catch (err) {
      throw new NspawnError('NSPAWN_CGROUP_FAILED', `could not create cgroup: ${errMessage(err)}`, { dirs: this.dirs }, { cause: err });
    }
  }

  /** Every pid in the node's cgroup2 subtree (nspawn, its supervisor and the whole container). */
  async pids(): Promise<number[]> {
    return collectPids(this.unifiedDir);
  }

  /** Sends SIGKILL to everything in the subtree (cgroup.kill, kernel 5.14+; else pid by pid). */
  async killAll(): Promise<void> {
    try {
      await writeFile(join(this.unifiedDir, 'cgroup.kill'), '1');
      return;
    } catch (err) {
      if (isErrno(err, 'ENOENT') && !(await exists(this.unifiedDir))) return;
      // cgroup.kill is missing on older kernels: fall back to signalling each pid.
    }
    for (const pid of await this.pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch (err) {
        if (!isErrno(err, 'ESRCH')) throw err;
      }
    }
  }

  /** Removes the cgroup directories bottom-up; they must be empty of processes. */
  async remove(): Promise<void> {
    for (const dir of this.dirs) {
      const all = await listSubtree(dir);
      all.sort((a, b) => b.length - a.length);
      for (const d of all) {
        try {
          await rmdir(d);
        } catch (err) {
          if (isErrno(err, 'ENOENT')) continue;
          throw new NspawnError('NSPAWN_CGROUP_FAILED', `could not remove cgroup ${d}: ${errMessage(err)}`, { dir: d }, { cause: err });
        }
      }
    }
  }

  async exists(): Promise<boolean> {
    for (const dir of this.dirs) if (await exists(dir)) return true;
    return false;
  }
}

async function listSubtree(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw err;
  }
  const out = [dir];
  for (const e of entries) if (e.isDirectory()) out.push(...(await listSubtree(join(dir, e.name))));
  return out;
}

async function collectPids(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const d of await listSubtree(dir)) {
    let text: string;
    try {
      text = await readFile(join(d, 'cgroup.procs'), 'utf8');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) continue;
      throw err;
    }
    for (const line of text.split('\n')) if (line.trim() !== '') pids.push(Number(line.trim()));
  }
  return pids;
}

async function exists(path: string): Promise<boolean> {
  try {
    await readdir(path);
    return true;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
}

export function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && (err as { code: unknown }).code === code;
}

export function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** True when the process exists and is not a zombie (a zombie waits for a parent that may never reap it). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return !isErrno(err, 'ESRCH');
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ESRCH')) return false;
    throw err;
  }
}
