import { readdir, readFile, rmdir } from 'node:fs/promises';

/** Pids of containerd shims serving the containerd at `socket` (matched on their -address argument). */
export async function shimPids(socket: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmd: string[];
    try {
      cmd = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0');
    } catch {
      continue; // the process ended while we looked
    }
    if (!(cmd[0] ?? '').includes('containerd-shim')) continue;
    const i = cmd.indexOf('-address');
    if (i >= 0 && cmd[i + 1] === socket) pids.push(Number(entry));
  }
  return pids;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGKILLs each shim's direct children (container init processes), then the shim. Returns the shims found. */
export async function killShims(socket: string): Promise<number[]> {
  const shims = await shimPids(socket);
  for (const pid of shims) {
    const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
    for (const c of children.split(' ').filter((s) => /^\d+$/.test(s))) {
      if (alive(Number(c))) process.kill(Number(c), 'SIGKILL');
    }
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
  return shims;
}

/**
 * Removes the cgroup directory `name` (relative to each hierarchy's root) from every cgroup
 * hierarchy mounted under /sys/fs/cgroup, where it exists and is empty. Returns the paths it
 * could not remove because they still hold processes or children.
 */
export async function removeCgroupDirs(name: string): Promise<string[]> {
  const busy: string[] = [];
  let roots: string[];
  try {
    roots = await readdir('/sys/fs/cgroup');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const targets = [`/sys/fs/cgroup/${name}`, ...roots.map((r) => `/sys/fs/cgroup/${r}/${name}`)];
  for (const path of targets) {
    try {
      await rmdir(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue; // not in this hierarchy
      if (code === 'EBUSY' || code === 'ENOTEMPTY') busy.push(path);
      else throw err;
    }
  }
  return busy;
}
