/**
 * Lab workers on Docker (`kip-lab up --runtime docker|containerd|mixed`): which worker runs on
 * which runtime, the per-worker dockerd on the host (private data root, exec root, pidfile, config
 * and socket under STATE/dockerd/<name>, never /var/lib/docker or /run/docker.sock; flags in
 * scripts/containerd/dockerd.ts), its record in lab.json, and how `kip-lab down` and `status`
 * end it and measure it from that record alone. A Docker worker's socket is bind-mounted at
 * /run/docker.sock in the node (/var/run is /run there), where a v1.10 kubelet's default
 * --docker-endpoint=unix:///var/run/docker.sock and kip-agent's detection expect it.
 */
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../../lib/clock.ts';
import { InvalidInputError } from '../../lib/errors.ts';
import { killShims, removeCgroupDirs, shimPids } from '../containerd/procs.ts';

export type LabRuntimeChoice = 'docker' | 'containerd' | 'mixed';
export type NodeRuntime = 'docker' | 'containerd';
export const LAB_RUNTIME_CHOICES: readonly LabRuntimeChoice[] = ['docker', 'containerd', 'mixed'];
/** mixed: worker-1 on dockerd (the v1.10-era default the operators have), the others on containerd. */
export const DEFAULT_LAB_RUNTIME: LabRuntimeChoice = 'mixed';

/** Where a Docker worker's dockerd socket appears inside the node. */
export const NODE_DOCKER_SOCKET = '/run/docker.sock';
/** The kubelet's --docker-endpoint (v1.10 default, cmd/kubelet/app/options/container_runtime.go). */
export const NODE_DOCKER_ENDPOINT = 'unix:///var/run/docker.sock';

export function parseLabRuntime(value: unknown): LabRuntimeChoice {
  if (value === undefined) return DEFAULT_LAB_RUNTIME;
  if (typeof value === 'string' && (LAB_RUNTIME_CHOICES as readonly string[]).includes(value)) return value as LabRuntimeChoice;
  throw new InvalidInputError('LAB_USAGE', `--runtime must be one of ${LAB_RUNTIME_CHOICES.join(', ')}, got ${String(value)}`);
}

/** The runtime of worker i (0-based). */
export function workerRuntime(choice: LabRuntimeChoice | undefined, index: number): NodeRuntime {
  const c = choice ?? DEFAULT_LAB_RUNTIME;
  if (c === 'mixed') return index === 0 ? 'docker' : 'containerd';
  return c;
}

export interface LabDockerdRecord {
  readonly dir: string;
  readonly socket: string;
  readonly pid: number;
  /** The cgroup its containers run under (relative to the cgroup root). */
  readonly cgroupParent: string;
  /** dockerd's own containerd socket: its shims carry it as -address. */
  readonly innerContainerdSocket: string;
}

/** A cgroup parent unique to this lab (state dir) and worker, so two labs never share one. */
export function dockerCgroupParent(stateDir: string, worker: string): string {
  return `kip-lab-docker-${createHash('sha256').update(stateDir).digest('hex').slice(0, 8)}-${worker}`;
}

export interface DockerdProcs {
  readonly pidAlive: (pid: number | undefined) => pid is number;
  readonly cmdline: (pid: number) => Promise<string[]>;
  readonly processTree: (pid: number) => Promise<number[]>;
  readonly rssOf: (pids: readonly number[]) => Promise<number>;
}

/** A Docker worker's memory outside its nspawn cgroup: dockerd, its containerd, the shims and their containers. */
export async function dockerdRss(rec: LabDockerdRecord, procs: DockerdProcs): Promise<number> {
  const pids = procs.pidAlive(rec.pid) ? await procs.processTree(rec.pid) : [];
  for (const shim of await shimPids(rec.innerContainerdSocket)) pids.push(...(await procs.processTree(shim)));
  return procs.rssOf([...new Set(pids)]);
}

/**
 * Ends one lab dockerd and everything under it from the record alone (after a crash of the
 * supervisor too): TERM (KILL after 10 s) to dockerd when its command line names its dir, KILL to
 * the shims of its containerd and their containers, then the container cgroups. Returns problems.
 */
export async function sweepDockerd(rec: LabDockerdRecord, procs: DockerdProcs, clock: Clock): Promise<string[]> {
  const problems: string[] = [];
  const gone = async (pid: number, ms: number): Promise<boolean> => {
    const deadline = clock.now() + ms;
    while (procs.pidAlive(pid)) {
      if (clock.now() > deadline) return false;
      await clock.sleep(100);
    }
    return true;
  };
  if (procs.pidAlive(rec.pid) && (await procs.cmdline(rec.pid)).some((a) => a.startsWith(rec.dir))) {
    process.kill(rec.pid, 'SIGTERM');
    if (!(await gone(rec.pid, 10_000))) process.kill(rec.pid, 'SIGKILL');
    if (!(await gone(rec.pid, 5_000))) problems.push(`dockerd ${rec.pid} survives SIGKILL`);
  }
  const shims = await killShims(rec.innerContainerdSocket);
  for (const shim of shims) if (!(await gone(shim, 10_000))) problems.push(`docker shim ${shim} survives SIGKILL`);
  const deadline = clock.now() + 10_000;
  let busy = await removeCgroupTree(rec.cgroupParent);
  while (busy.length > 0 && clock.now() < deadline) {
    await clock.sleep(200);
    busy = await removeCgroupTree(rec.cgroupParent);
  }
  if (busy.length > 0) problems.push(`docker container cgroups still busy: ${busy.join(' ')}`);
  return problems;
}

/** Child cgroups first (a container killed with its shim leaves its own under the parent), then the parent. */
async function removeCgroupTree(name: string): Promise<string[]> {
  const roots = await readdir('/sys/fs/cgroup').catch(() => [] as string[]);
  const children = new Set<string>();
  for (const base of ['', ...roots]) {
    const entries = await readdir(join('/sys/fs/cgroup', base, name), { withFileTypes: true }).catch(() => []);
    for (const e of entries) if (e.isDirectory()) children.add(`${name}/${e.name}`);
  }
  const busy: string[] = [];
  for (const child of children) busy.push(...(await removeCgroupDirs(child)));
  return [...busy, ...(await removeCgroupDirs(name))];
}
