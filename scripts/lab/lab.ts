/**
 * The lab: a whole v1.10 cluster on one machine. One control-plane node (etcd, lab apiserver as
 * systemd units) and N workers (lab kubelet + kip-agent as units, each with a private containerd
 * started on the host and bind-mounted at /run/containerd/containerd.sock), every node a real
 * systemd in systemd-nspawn on the host network with its own loopback address (PREFIX.10 for the
 * control plane, PREFIX.11.. for workers).
 *
 * bringUpLab() (bring-up.ts) runs inside the long-lived lab supervisor (scripts/lab/supervisor.ts),
 * which owns the nspawn and containerd processes; it records everything in lab.json as it goes,
 * so sweepLab() here can clean up from that record alone after a crash or a partial start. This
 * file holds the record, the process helpers, sweep (down) and status.
 */
import { appendFile, readFile, readdir, readlink, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KipError } from '../../lib/errors.ts';
import type { Exec } from '../../lib/exec.ts';
import type { Logger } from '../../lib/logger.ts';
import type { Clock } from '../../lib/clock.ts';
import { KubeClient } from '../../lib/kube/index.ts';
import { NODE_PATH, reapOrphanedNodes } from '../nspawn/index.ts';
import { discoverCgroupHierarchies, isProcessAlive, NodeCgroup } from '../nspawn/cgroup.ts';
import { unmountAllUnder, mountsUnder } from '../containerd/mounts.ts';
import { removeCgroupDirs, shimPids } from '../containerd/procs.ts';
import type { HashMode } from './kubelet/hashes.ts';
import { programsDirOf, type ProgramsMode } from './programs.ts';
import type { Runtime } from './node-config.ts';
import type { WorkloadProfile } from './workloads.ts';
import { dockerdRss, sweepDockerd, type LabDockerdRecord, type LabRuntimeChoice, type NodeRuntime } from './docker-workers.ts';

export const REPO_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const DEFAULT_STATE_DIR = '/var/lib/kip-lab';

/** How this lab's launchers start its programs (the node binary, the repository, its bundles if any). */
export function labRuntime(state: { readonly options: Pick<LabOptions, 'programs'> }): Runtime {
  return { nodeBinary: process.execPath, repoDir: REPO_DIR, programsDir: programsDirOf(state.options, REPO_DIR) };
}
export const STATE_FILE = 'lab.json';
export const PROGRESS_FILE = 'up.log';
export const SUPERVISOR_LOG = 'supervisor.log';

export class LabError extends KipError {}

export interface LabOptions {
  readonly stateDir: string;
  readonly workers: number;
  /** Control plane and kubelets, e.g. v1.10.13. */
  readonly version: string;
  /** Kubelets with the skip-file patch (default true). */
  readonly patched: boolean;
  /** 127.X.Y: control plane .10, workers .11... */
  readonly addressPrefix: string;
  readonly workloads: WorkloadProfile;
  /** Kubelet sync period in ms (lab flag --lab-sync-interval). */
  readonly syncIntervalMs: number;
  /** Where the lab kubelets' container hashes come from: kip's engine, or the golden vectors (oracle). */
  readonly hashes: HashMode;
  /** How the control-plane node runs apiserver, scheduler and controller-manager (default systemd units). */
  readonly controlPlane?: 'systemd' | 'static-pods';
  /** How the lab's own programs run: esbuild bundles (default) or the sources through tsx. Absent in labs from before bundles: tsx. */
  readonly programs?: ProgramsMode;
  /** Which workers run on dockerd (dockershim) and which on containerd (docker-workers.ts); absent in older records: containerd. */
  readonly runtime?: LabRuntimeChoice;
  /** Who installs kip-agent: the lab itself (default) or the Ansible role with the packaged artifact (agents-role.ts). */
  readonly agents?: LabAgentsMode;
  /** --agents role: the agent artifact and the kip CLI (default dist/kip-agent-linux-x64 and dist/kip, built when missing). */
  readonly agentArtifact?: string;
  readonly kipCli?: string;
}

export type LabAgentsMode = 'lab' | 'role';

export interface LabContainerdRecord {
  readonly dir: string;
  readonly socket: string;
  readonly pid: number;
}

export interface LabNodeRecord {
  readonly name: string;
  readonly role: 'control-plane' | 'worker';
  readonly address: string;
  readonly workDir: string;
  readonly root: string;
  nspawnPid?: number;
  leaderPid?: number;
  /** The node's cgroup, relative to the cgroup2 root (kip-nspawn/<supervisor pid>-<name>-<rand>). */
  cgroup?: string;
  containerd?: LabContainerdRecord;
  /** A worker's container runtime (absent: containerd, or the control plane). */
  runtime?: NodeRuntime;
  dockerd?: LabDockerdRecord;
  units: string[];
  /** host:port of this node's kip-agent (gRPC, mutual TLS with the lab's agent PKI). */
  agent?: string;
  /** kip-agent installed by the Ansible role (the artifact at /usr/local/bin/kip-agent). */
  agentByRole?: boolean;
}

/** One owner's share of a node's memory (./memory.ts names the owners). */
export interface OwnerMemory {
  readonly rssBytes: number;
  readonly pssBytes: number;
  readonly processes: number;
}

export type MemoryBreakdown = Readonly<Record<string, OwnerMemory>>;

export interface LabSummary {
  readonly upMs: number;
  readonly nodes: number;
  readonly pods: number;
  readonly containers: number;
  /** Resident memory per node (node's systemd and units, plus for workers containerd, shims and containers). */
  readonly memoryBytes: Readonly<Record<string, number>>;
  /** Per node, RSS and PSS by owner (./memory.ts): kip's agent, the lab's programs, Debian's daemons. */
  readonly memoryBreakdown?: Readonly<Record<string, MemoryBreakdown>>;
  readonly selectorPodNode?: string;
}

export type LabStatusWord = 'starting' | 'up' | 'failed' | 'stopping' | 'stopped';

export interface LabState {
  readonly format: 1;
  status: LabStatusWord;
  error?: string;
  readonly stateDir: string;
  readonly supervisorPid: number;
  readonly options: LabOptions;
  readonly startedAt: string;
  kubeconfig?: string;
  apiserver?: string;
  agentPki?: { ca: string; cert: string; key: string };
  /** For kip against this lab: --releases DIR, --pki-dir and --inventory (scripts/lab/releases.ts). */
  kip?: { releases: string; pkiDir: string; inventory: string };
  nodes: LabNodeRecord[];
  summary?: LabSummary;
}

export interface LabDeps {
  readonly exec: Exec;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Progress lines for the user. */
  readonly progress: (line: string) => void;
  /** True once a stop was requested (SIGTERM during up). */
  readonly aborted?: () => boolean;
}


// ---------------------------------------------------------------- state file

export async function readLabState(stateDir: string): Promise<LabState | undefined> {
  let text: string;
  try {
    text = await readFile(join(stateDir, STATE_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as LabState;
    if (parsed.format !== 1 || !Array.isArray(parsed.nodes)) throw new Error('unknown format');
    return parsed;
  } catch (cause) {
    throw new LabError('LAB_STATE_CORRUPT', `${join(stateDir, STATE_FILE)} is not a lab state file`, { stateDir }, { cause });
  }
}

let stateWrites = 0;

export async function writeLabState(state: LabState): Promise<void> {
  const file = join(state.stateDir, STATE_FILE);
  const tmp = `${file}.${process.pid}.${++stateWrites}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`);
  await rename(tmp, file);
}

// ---------------------------------------------------------------- processes

export function pidAlive(pid: number | undefined): pid is number {
  return pid !== undefined && Number.isInteger(pid) && pid > 0 && isProcessAlive(pid);
}

export async function cmdline(pid: number): Promise<string[]> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter((s) => s !== '');
  } catch {
    return [];
  }
}

async function childrenOf(pid: number): Promise<number[]> {
  try {
    const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8');
    return text.split(' ').filter((s) => /^\d+$/.test(s)).map(Number);
  } catch {
    return [];
  }
}

/** pid and all its descendants. */
export async function processTree(pid: number): Promise<number[]> {
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...(await childrenOf(out[i]!)));
  return out;
}

export async function rssOf(pids: readonly number[]): Promise<number> {
  let kb = 0;
  for (const pid of pids) {
    try {
      const m = /^VmRSS:\s+(\d+) kB$/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
      if (m?.[1] !== undefined) kb += Number(m[1]);
    } catch {
      // ended while we looked
    }
  }
  return kb * 1024;
}

/** The process helpers docker-workers.ts measures and sweeps a dockerd with. */
export const dockerdProcs = { pidAlive, cmdline, processTree: (pid: number) => processTree(pid), rssOf: (pids: readonly number[]) => rssOf(pids) };

/** A worker's memory outside its nspawn cgroup: its containerd, the shims and their containers. */
export async function containerdRss(record: LabContainerdRecord): Promise<number> {
  const pids = pidAlive(record.pid) ? await processTree(record.pid) : [];
  for (const shim of await shimPids(record.socket)) pids.push(...(await processTree(shim)));
  return rssOf([...new Set(pids)]);
}

/** The cgroup2 path of a process, relative to the root ("kip-nspawn/..."), from /proc/PID/cgroup. */
export async function cgroupOf(pid: number): Promise<string | undefined> {
  try {
    const line = (await readFile(`/proc/${pid}/cgroup`, 'utf8')).split('\n').find((l) => l.startsWith('0::'));
    return line?.slice(3).replace(/^\//, '');
  } catch {
    return undefined;
  }
}

/** Runs a command inside a node by its init pid (what `status` and `down` use without a node handle). */
export function nodeExec(exec: Exec, leaderPid: number, command: string, args: readonly string[], timeoutMs = 15_000) {
  return exec('nsenter', ['-t', String(leaderPid), '-a', 'env', '-i', `PATH=${NODE_PATH}`, 'timeout', `${Math.ceil(timeoutMs / 1000)}s`, command, ...args], { timeoutMs: timeoutMs + 5_000 });
}

export function isReady(node: { status?: { conditions?: { type: string; status: string }[] } }): boolean {
  return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

// ---------------------------------------------------------------- sweep (down)

async function waitGone(deps: Pick<LabDeps, 'clock'>, pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = deps.clock.now() + timeoutMs;
  while (pidAlive(pid)) {
    if (deps.clock.now() > deadline) return false;
    await deps.clock.sleep(100);
  }
  return true;
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** Unix socket paths a process holds open (from its fds and /proc/net/unix). */
export async function unixSocketPaths(pid: number): Promise<string[]> {
  const inodes = new Set<string>();
  try {
    for (const fd of await readdir(`/proc/${pid}/fd`)) {
      const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m?.[1]) inodes.add(m[1]);
    }
  } catch {
    return [];
  }
  const out: string[] = [];
  const table = await readFile('/proc/net/unix', 'utf8').catch(() => '');
  for (const line of table.split('\n').slice(1)) {
    const parts = line.trim().split(/\s+/);
    const inode = parts[6];
    const path = parts[7];
    if (inode && path && inodes.has(inode) && path.startsWith('/')) out.push(path);
  }
  return out;
}

/** Ends one containerd and its shims/containers from the record alone; returns leftover problems. */
async function sweepContainerd(rec: LabContainerdRecord, deps: Pick<LabDeps, 'exec' | 'clock'>): Promise<string[]> {
  const problems: string[] = [];
  const shims = await shimPids(rec.socket);
  const shimSockets = new Set<string>();
  const containerCgroups = new Set<string>();
  for (const shim of shims) {
    for (const p of await unixSocketPaths(shim)) if (p.startsWith('/run/containerd/s/')) shimSockets.add(p);
    for (const child of await childrenOf(shim)) {
      const cg = await cgroupOf(child);
      if (cg && cg !== (await cgroupOf(shim))) containerCgroups.add(cg);
    }
  }
  if (pidAlive(rec.pid) && (await cmdline(rec.pid)).some((a) => a.startsWith(rec.dir))) {
    kill(rec.pid, 'SIGTERM');
    if (!(await waitGone(deps, rec.pid, 10_000))) kill(rec.pid, 'SIGKILL');
    await waitGone(deps, rec.pid, 5_000);
  }
  for (const shim of shims) {
    for (const pid of (await processTree(shim)).reverse()) kill(pid, 'SIGKILL');
  }
  for (const shim of shims) if (!(await waitGone(deps, shim, 10_000))) problems.push(`shim ${shim} survives SIGKILL`);
  for (const s of shimSockets) await unlink(s).catch(() => undefined);
  for (const cg of containerCgroups) {
    const busy = await removeCgroupDirs(cg);
    if (busy.length > 0) problems.push(`container cgroups still busy: ${busy.join(' ')}`);
  }
  return problems;
}

export interface SweepResult {
  readonly stoppedSupervisor: boolean;
  readonly problems: readonly string[];
}

/**
 * Stops everything a lab left, from lab.json alone: asks the supervisor to tear down (SIGTERM)
 * and waits; then ends whatever is still there (nspawn, node cgroups, containerds, shims),
 * unmounts everything under the state dir and removes it. Idempotent; works after a partial up
 * or a crash of the supervisor.
 */
export async function sweepLab(stateDir: string, deps: Pick<LabDeps, 'exec' | 'logger' | 'clock'> & { progress?: (line: string) => void }): Promise<SweepResult> {
  const dir = resolve(stateDir);
  const say = deps.progress ?? (() => undefined);
  const problems: string[] = [];
  const state = await readLabState(dir).catch((err: unknown) => {
    problems.push(err instanceof Error ? err.message : String(err));
    return undefined;
  });
  let stoppedSupervisor = false;
  if (state && pidAlive(state.supervisorPid) && (await cmdline(state.supervisorPid)).some((a) => a.endsWith('supervisor.ts'))) {
    say(`asking the lab supervisor (pid ${state.supervisorPid}) to stop the lab`);
    kill(state.supervisorPid, 'SIGTERM');
    stoppedSupervisor = await waitGone(deps, state.supervisorPid, 180_000);
    if (!stoppedSupervisor) {
      problems.push(`supervisor ${state.supervisorPid} did not stop in 180 s; killed`);
      kill(state.supervisorPid, 'SIGKILL');
      await waitGone(deps, state.supervisorPid, 10_000);
    }
  }
  const hierarchies = await discoverCgroupHierarchies();
  for (const node of [...(state?.nodes ?? [])].sort((a) => (a.role === 'worker' ? -1 : 1))) {
    if (node.nspawnPid !== undefined && pidAlive(node.nspawnPid) && (await cmdline(node.nspawnPid)).some((a) => a === node.root)) {
      say(`stopping node ${node.name}`);
      kill(node.nspawnPid, 'SIGTERM');
      await waitGone(deps, node.nspawnPid, 30_000);
    }
    if (node.cgroup?.startsWith('kip-nspawn/')) {
      const cg = new NodeCgroup(hierarchies, node.cgroup);
      const deadline = deps.clock.now() + 15_000;
      while ((await cg.pids()).length > 0 && deps.clock.now() < deadline) {
        await cg.killAll();
        await deps.clock.sleep(100);
      }
      try {
        await cg.remove();
      } catch (err) {
        problems.push(err instanceof Error ? err.message : String(err));
      }
    }
    if (node.containerd) problems.push(...(await sweepContainerd(node.containerd, deps)));
    if (node.dockerd) problems.push(...(await sweepDockerd(node.dockerd, dockerdProcs, deps.clock)));
  }
  // Nodes of any dead creator (this lab's crashed supervisor included).
  await reapOrphanedNodes({ exec: deps.exec, logger: deps.logger }).catch((err: unknown) => problems.push(err instanceof Error ? err.message : String(err)));
  try {
    await unmountAllUnder(deps.exec, dir);
  } catch (err) {
    problems.push(err instanceof Error ? err.message : String(err));
  }
  const leftMounts = await mountsUnder(dir);
  if (leftMounts.length > 0) problems.push(`still mounted: ${leftMounts.join(' ')}`);
  else await rm(dir, { recursive: true, force: true });
  return { stoppedSupervisor, problems };
}

// ---------------------------------------------------------------- status

export interface NodeHealth {
  readonly name: string;
  readonly role: LabNodeRecord['role'];
  readonly address: string;
  readonly runtime?: NodeRuntime;
  readonly running: boolean;
  readonly systemd: string;
  readonly units: Readonly<Record<string, string>>;
  readonly ready?: boolean;
  readonly kubeletVersion?: string;
  readonly memoryBytes: number;
  readonly agent?: string;
}

export interface LabHealth {
  readonly state: LabState | undefined;
  readonly supervisorAlive: boolean;
  readonly apiserverHealthy: boolean;
  readonly nodes: readonly NodeHealth[];
  readonly pods?: { total: number; running: number; containers: number; runningContainers: number };
  readonly healthy: boolean;
}

export async function labStatus(stateDir: string, deps: Pick<LabDeps, 'exec'>): Promise<LabHealth> {
  const state = await readLabState(resolve(stateDir));
  if (!state) return { state, supervisorAlive: false, apiserverHealthy: false, nodes: [], healthy: false };
  const supervisorAlive = pidAlive(state.supervisorPid);
  let kube: KubeClient | undefined;
  let apiserverHealthy = false;
  const apiNodes = new Map<string, { ready: boolean; version?: string }>();
  let pods: LabHealth['pods'];
  if (state.kubeconfig) {
    try {
      kube = KubeClient.fromFile(state.kubeconfig);
      await kube.getVersion();
      apiserverHealthy = true;
      for (const n of await kube.listNodes()) apiNodes.set(n.metadata?.name ?? '', { ready: isReady(n), version: n.status?.nodeInfo?.kubeletVersion });
      const { countRunning } = await import('./workloads.ts');
      const c = await countRunning(kube);
      pods = { total: c.pods, running: c.runningPods, containers: c.containers, runningContainers: c.runningContainers };
    } catch {
      apiserverHealthy = false;
    }
  }
  const nodes: NodeHealth[] = [];
  for (const rec of state.nodes) {
    const running = pidAlive(rec.nspawnPid) && pidAlive(rec.leaderPid);
    let systemd = 'down';
    const units: Record<string, string> = {};
    if (running && rec.leaderPid !== undefined) {
      systemd = (await nodeExec(deps.exec, rec.leaderPid, 'systemctl', ['is-system-running'])).stdout.trim() || 'unknown';
      for (const u of rec.units) units[u] = (await nodeExec(deps.exec, rec.leaderPid, 'systemctl', ['is-active', u])).stdout.trim() || 'unknown';
    }
    let memoryBytes = 0;
    if (running && rec.cgroup) {
      const cg = new NodeCgroup(await discoverCgroupHierarchies(), rec.cgroup);
      memoryBytes = await rssOf(await cg.pids());
    }
    if (rec.containerd) memoryBytes += await containerdRss(rec.containerd);
    if (rec.dockerd) memoryBytes += await dockerdRss(rec.dockerd, dockerdProcs);
    const api = apiNodes.get(rec.name);
    nodes.push({ name: rec.name, role: rec.role, address: rec.address, ...(rec.role === 'worker' ? { runtime: rec.runtime ?? 'containerd' } : {}), running, systemd, units, ready: rec.role === 'worker' ? api?.ready ?? false : undefined, kubeletVersion: api?.version, memoryBytes, agent: rec.agent });
  }
  const healthy = state.status === 'up' && supervisorAlive && apiserverHealthy
    && nodes.every((n) => n.running && (n.systemd === 'running' || n.systemd === 'degraded') && Object.values(n.units).every((u) => u === 'active') && n.ready !== false);
  return { state, supervisorAlive, apiserverHealthy, nodes, pods, healthy };
}

/** Appends a progress line to the state dir's up.log (what `kip-lab up` prints). */
export async function appendProgress(stateDir: string, line: string): Promise<void> {
  await appendFile(join(stateDir, PROGRESS_FILE), `${line}\n`);
}
