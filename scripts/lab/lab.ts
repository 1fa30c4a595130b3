/**
 * The lab: a whole v1.10 cluster on one machine. One control-plane node (etcd, lab apiserver as
 * systemd units) and N workers (lab kubelet + kip-agent as units, each with a private containerd
 * started on the host and bind-mounted at /run/containerd/containerd.sock), every node a real
 * systemd in systemd-nspawn on the host network with its own loopback address (PREFIX.10 for the
 * control plane, PREFIX.11.. for workers).
 *
 * bringUpLab() runs inside the long-lived lab supervisor (scripts/lab/supervisor.ts), which owns
 * the nspawn and containerd processes; it records everything in lab.json as it goes, so
 * sweepLab() can clean up from that record alone after a crash or a partial start.
 */
import { appendFile, mkdir, readFile, readdir, readlink, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KipError } from '../../lib/errors.ts';
import type { Exec } from '../../lib/exec.ts';
import type { Logger } from '../../lib/logger.ts';
import { KubeClient } from '../../lib/kube/index.ts';
import { bootNode, ensureBaseImage, NODE_PATH, reapOrphanedNodes, type NspawnNode } from '../nspawn/index.ts';
import { discoverCgroupHierarchies, isProcessAlive, NodeCgroup } from '../nspawn/cgroup.ts';
import { startContainerd, type ContainerdHandle } from '../containerd/containerd.ts';
import { unmountAllUnder, mountsUnder } from '../containerd/mounts.ts';
import { removeCgroupDirs, shimPids } from '../containerd/procs.ts';
import { writeLauncher, LAB_KUBELET_VERSIONS } from './kubelet/launcher.ts';
import { generateLabPki, type LabPki } from './pki.ts';
import { writeSchedulerLauncher } from './scheduler/launcher.ts';
import { writeControllerManagerLauncher } from './controller-manager/launcher.ts';
import {
  AGENT_PATHS, APISERVER_PORT, CONTROL_PLANE_PATHS, ETCD_CLIENT_PORT, KUBELET_PATHS, KUBELET_UNIT, NODE_CONTAINERD_SOCKET, SKIP_FILE,
  agentConfig, agentUnit, apiserverConfig, apiserverLauncher, apiserverUnit, controllerManagerUnit, etcdUnit, kubeletDefaults, kubeletDropIn, nodeAddresses, schedulerUnit,
  type Runtime,
} from './node-config.ts';
import { createWorkloads, removeSelectorLabel, waitForWorkloads, workloadPlan, type WorkloadProfile } from './workloads.ts';
import { kubeconfigYaml, writeKubeconfig } from './kubeconfig.ts';

export const REPO_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const DEFAULT_STATE_DIR = '/var/lib/kip-lab';
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
}

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
  units: string[];
}

export interface LabSummary {
  readonly upMs: number;
  readonly nodes: number;
  readonly pods: number;
  readonly containers: number;
  /** Resident memory per node (node's systemd and units, plus for workers containerd, shims and containers). */
  readonly memoryBytes: Readonly<Record<string, number>>;
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
  nodes: LabNodeRecord[];
  summary?: LabSummary;
}

export interface LabDeps {
  readonly exec: Exec;
  readonly logger: Logger;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  /** Progress lines for the user. */
  readonly progress: (line: string) => void;
  /** True once a stop was requested (SIGTERM during up). */
  readonly aborted?: () => boolean;
}

export const realSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

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

// ---------------------------------------------------------------- bring-up

export interface RunningLab {
  readonly state: LabState;
  /** Stops every unit, node and containerd this supervisor started (not idempotent across processes: use sweepLab). */
  teardown(): Promise<void>;
}

async function put(root: string, path: string, content: string | Buffer, mode = 0o644): Promise<void> {
  const target = join(root, path);
  await mkdir(dirname(target), { recursive: true });
  await writeFile(target, content, { mode });
}

async function copyInto(root: string, from: string, to: string, mode = 0o644): Promise<void> {
  await put(root, to, await readFile(from), mode);
}

async function pollUntil<T>(deps: LabDeps, what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = deps.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    if (deps.aborted?.()) throw new LabError('LAB_ABORTED', `stopped while waiting for ${what}`);
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    if (deps.now() > deadline) {
      const why = lastErr instanceof Error ? `: ${lastErr.message}` : '';
      throw new LabError('LAB_TIMEOUT', `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${why}`, { what });
    }
    await deps.sleep(250);
  }
}

async function unitsActive(node: NspawnNode, units: readonly string[]): Promise<boolean> {
  const r = await node.exec('systemctl', ['is-active', ...units], { timeoutMs: 15_000 });
  return r.exitCode === 0;
}

async function unitJournal(node: NspawnNode, unit: string): Promise<string> {
  const r = await node.exec('journalctl', ['-u', unit, '--no-pager', '-n', '15', '-o', 'cat'], { timeoutMs: 15_000 });
  return r.stdout.trim();
}

function isReady(node: { status?: { conditions?: { type: string; status: string }[] } }): boolean {
  return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/**
 * Brings the whole lab up. On failure everything started so far is stopped before the error is
 * rethrown. The supervisor must keep running while the lab is up (it owns the processes).
 */
export async function bringUpLab(options: LabOptions, deps: LabDeps): Promise<RunningLab> {
  const { exec, logger, progress } = deps;
  const started = deps.now();
  if (!(LAB_KUBELET_VERSIONS as readonly string[]).includes(options.version)) {
    throw new LabError('LAB_BAD_ARGUMENT', `no lab kubelet for ${options.version} (have ${LAB_KUBELET_VERSIONS.join(', ')})`, { version: options.version });
  }
  const stateDir = resolve(options.stateDir);
  const addrs = nodeAddresses(options.addressPrefix, options.workers);
  const rt: Runtime = { nodeBinary: process.execPath, repoDir: REPO_DIR };
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const state: LabState = {
    format: 1, status: 'starting', stateDir, supervisorPid: process.pid, options, startedAt: new Date(started).toISOString(), nodes: [],
  };
  // Saves are serialized (workers boot concurrently) and each writes the latest state.
  let saving: Promise<void> = Promise.resolve();
  const save = (): Promise<void> => {
    saving = saving.catch(() => undefined).then(() => writeLabState(state));
    return saving;
  };
  await save();

  const nodes: NspawnNode[] = [];
  const containerds: ContainerdHandle[] = [];
  const teardown = async (): Promise<void> => {
    const problems: string[] = [];
    const note = (what: string) => (err: unknown) => {
      problems.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    };
    // Workers first (their kubelets would recreate pods), then their containerds, then the control plane.
    await Promise.all(nodes.filter((n) => n.name !== cpName).map((n) => n.stop().catch(note(`node ${n.name}`))));
    await Promise.all(containerds.map((c) => c.stop().catch(note(`containerd ${c.dir}`))));
    await Promise.all(nodes.filter((n) => n.name === cpName).map((n) => n.stop().catch(note(`node ${n.name}`))));
    if (problems.length > 0) throw new LabError('LAB_TEARDOWN_UNCLEAN', `lab teardown had problems: ${problems.join('; ')}`, { problems });
  };

  const cpName = 'control-plane';
  const workerNames = addrs.workers.map((_, i) => `worker-${i + 1}`);
  try {
    progress(`state dir ${stateDir}; nodes: ${cpName} ${addrs.controlPlane}, ${workerNames.map((n, i) => `${n} ${addrs.workers[i]}`).join(', ')}`);
    const base = await ensureBaseImage({ logger });

    // ---- PKI
    progress('generating PKI');
    const pki: LabPki = await generateLabPki({
      exec,
      dir: join(stateDir, 'pki'),
      serverNames: ['localhost', 'kubernetes', 'kubernetes.default', addrs.controlPlane, '127.0.0.1'],
      clients: [
        { name: 'admin', commonName: 'kip-admin', organizations: ['system:masters'] },
        { name: 'control-plane', commonName: 'system:kube-controller-manager' },
        ...workerNames.map((n) => ({ name: `node-${n}`, commonName: `system:node:${n}`, organizations: ['system:nodes'] })),
      ],
    });
    const agentPki = await generateLabPki({
      exec,
      dir: join(stateDir, 'agent-pki'),
      serverNames: ['localhost', '127.0.0.1', ...addrs.workers],
      clients: [{ name: 'coordinator', commonName: 'kip-coordinator' }],
    });
    const coordinator = agentPki.clients.coordinator;
    if (coordinator) state.agentPki = { ca: agentPki.ca.cert, cert: coordinator.cert, key: coordinator.key };
    const apiserverUrl = `https://${addrs.controlPlane}:${APISERVER_PORT}`;
    const admin = pki.clients.admin;
    const kubeconfig = join(stateDir, 'admin.kubeconfig');
    await writeKubeconfig(kubeconfig, { server: apiserverUrl, caFile: pki.ca.cert, clientCertFile: admin?.cert, clientKeyFile: admin?.key, name: 'kip-lab' });
    state.kubeconfig = kubeconfig;
    state.apiserver = apiserverUrl;
    await save();

    // ---- control plane
    const bootRecorded = async (name: string, role: LabNodeRecord['role'], address: string, extra: { bindRo?: { host: string; inside?: string }[]; bind?: { host: string; inside?: string }[] }, containerd?: ContainerdHandle): Promise<{ node: NspawnNode; record: LabNodeRecord }> => {
      const workDir = join(stateDir, 'nodes', name);
      const record: LabNodeRecord = { name, role, address, workDir, root: join(workDir, 'root'), units: [] };
      if (containerd) record.containerd = { dir: containerd.dir, socket: containerd.socket, pid: containerd.pid };
      state.nodes.push(record);
      await save();
      const node = await bootNode({ name, base, workDir, logger, bindRo: [{ host: REPO_DIR }, ...(extra.bindRo ?? [])], bind: extra.bind ?? [] });
      nodes.push(node);
      record.nspawnPid = node.nspawnPid;
      record.leaderPid = node.leaderPid;
      // nspawn moves itself into a sub-cgroup of the node's cgroup: keep kip-nspawn/<leaf>.
      record.cgroup = (await cgroupOf(node.nspawnPid))?.split('/').slice(0, 2).join('/');
      await save();
      return { node, record };
    };

    progress(`booting ${cpName}`);
    const cp = await bootRecorded(cpName, 'control-plane', addrs.controlPlane, { bindRo: [{ host: '/usr/bin/etcd' }] });
    await cp.node.waitForSystemd(90_000);
    const cpRoot = cp.node.root;
    await copyInto(cpRoot, pki.ca.cert, CONTROL_PLANE_PATHS.ca);
    await copyInto(cpRoot, pki.server.cert, CONTROL_PLANE_PATHS.serverCert);
    await copyInto(cpRoot, pki.server.key, CONTROL_PLANE_PATHS.serverKey, 0o600);
    const cpClient = pki.clients['control-plane'];
    if (cpClient) {
      await copyInto(cpRoot, cpClient.cert, CONTROL_PLANE_PATHS.clientCert);
      await copyInto(cpRoot, cpClient.key, CONTROL_PLANE_PATHS.clientKey, 0o600);
    }
    await put(cpRoot, CONTROL_PLANE_PATHS.etcdUnit, etcdUnit(addrs.controlPlane));
    await put(cpRoot, CONTROL_PLANE_PATHS.apiserverConfig, apiserverConfig({ address: addrs.controlPlane, gitVersion: options.version, defaultTolerationSeconds: false }));
    await put(cpRoot, CONTROL_PLANE_PATHS.apiserverBinary, apiserverLauncher(rt, options.version), 0o755);
    await put(cpRoot, CONTROL_PLANE_PATHS.apiserverUnit, apiserverUnit());
    await writeSchedulerLauncher(join(cpRoot, CONTROL_PLANE_PATHS.schedulerBinary), { version: options.version, nodeBinary: rt.nodeBinary, repoDir: rt.repoDir });
    await writeControllerManagerLauncher(join(cpRoot, CONTROL_PLANE_PATHS.controllerManagerBinary), { version: options.version, nodeBinary: rt.nodeBinary, repoDir: rt.repoDir });
    const cpKubeconfig = kubeconfigYaml({ server: `https://${addrs.controlPlane}:${APISERVER_PORT}`, caFile: CONTROL_PLANE_PATHS.ca, clientCertFile: CONTROL_PLANE_PATHS.clientCert, clientKeyFile: CONTROL_PLANE_PATHS.clientKey, name: 'kip-lab' });
    await put(cpRoot, CONTROL_PLANE_PATHS.schedulerKubeconfig, cpKubeconfig, 0o600);
    await put(cpRoot, CONTROL_PLANE_PATHS.controllerManagerKubeconfig, cpKubeconfig, 0o600);
    await put(cpRoot, CONTROL_PLANE_PATHS.schedulerUnit, schedulerUnit());
    await put(cpRoot, CONTROL_PLANE_PATHS.controllerManagerUnit, controllerManagerUnit());
    const cpUnits = ['etcd.service', 'kube-apiserver.service', 'kube-scheduler.service', 'kube-controller-manager.service'];
    cp.record.units = cpUnits;
    await save();
    const reload = await cp.node.exec('sh', ['-c', `systemctl daemon-reload && systemctl enable --now ${cpUnits.join(' ')}`], { timeoutMs: 60_000 });
    if (reload.exitCode !== 0) throw new LabError('LAB_UNIT_FAILED', `starting ${cpUnits.join(' ')} failed: ${reload.stderr.trim()}`);
    progress(`etcd, kube-apiserver, kube-scheduler, kube-controller-manager ${options.version} starting on ${addrs.controlPlane}`);
    await pollUntil(deps, 'etcd /health', 60_000, async () => {
      const res = await fetch(`http://${addrs.controlPlane}:${ETCD_CLIENT_PORT}/health`);
      return res.ok ? true : undefined;
    }).catch(async (err: unknown) => {
      throw new LabError('LAB_ETCD_FAILED', `${err instanceof Error ? err.message : String(err)}\n${await unitJournal(cp.node, 'etcd.service')}`);
    });
    const kube = KubeClient.fromFile(kubeconfig);
    const version = await pollUntil(deps, 'the apiserver to answer /version', 90_000, async () => (await kube.getVersion()).gitVersion).catch(async (err: unknown) => {
      throw new LabError('LAB_APISERVER_FAILED', `${err instanceof Error ? err.message : String(err)}\n${await unitJournal(cp.node, 'kube-apiserver.service')}`);
    });
    progress(`apiserver ${version} ready at ${apiserverUrl}`);
    await pollUntil(deps, 'kube-scheduler and kube-controller-manager active', 60_000, async () => ((await unitsActive(cp.node, cpUnits)) ? true : undefined));
    progress('kube-scheduler and kube-controller-manager running');

    // ---- workers: containerd on the host, then the node
    progress(`starting ${workerNames.length} containerd(s) on the host`);
    const cds = await Promise.all(workerNames.map(async (name) => {
      const cd = await startContainerd({ dir: join(stateDir, 'containerd', name), exec, logger });
      containerds.push(cd);
      return cd;
    }));
    progress(`booting ${workerNames.join(', ')}`);
    const workers = await Promise.all(workerNames.map(async (name, i) => {
      const address = addrs.workers[i]!;
      const cd = cds[i]!;
      const w = await bootRecorded(name, 'worker', address, { bind: [{ host: cd.socket, inside: NODE_CONTAINERD_SOCKET }] }, cd);
      await w.node.waitForSystemd(90_000);
      const root = w.node.root;
      await writeLauncher(join(root, KUBELET_PATHS.binary), { version: options.version, skipFilePath: options.patched ? SKIP_FILE : undefined, nodeBinary: rt.nodeBinary, repoDir: rt.repoDir });
      await put(root, KUBELET_PATHS.unit, KUBELET_UNIT);
      await put(root, KUBELET_PATHS.dropIn, kubeletDropIn(options.version));
      await put(root, KUBELET_PATHS.defaults, kubeletDefaults({ nodeName: name, address, nodeLabels: { 'lab.kip.io/pool': 'workers' }, syncIntervalMs: options.syncIntervalMs }));
      await copyInto(root, pki.ca.cert, KUBELET_PATHS.ca);
      const nodeCert = pki.clients[`node-${name}`];
      if (!nodeCert) throw new LabError('LAB_PKI_MISSING', `no client certificate for ${name}`);
      await copyInto(root, nodeCert.cert, KUBELET_PATHS.clientCert);
      await copyInto(root, nodeCert.key, KUBELET_PATHS.clientKey, 0o600);
      await put(root, KUBELET_PATHS.kubeconfig, kubeconfigYaml({ server: apiserverUrl, caFile: KUBELET_PATHS.ca, clientCertFile: KUBELET_PATHS.clientCert, clientKeyFile: KUBELET_PATHS.clientKey, name: 'kip-lab' }), 0o600);
      await put(root, AGENT_PATHS.config, agentConfig({ nodeName: name, address }));
      await copyInto(root, agentPki.ca.cert, AGENT_PATHS.ca);
      await copyInto(root, agentPki.server.cert, AGENT_PATHS.cert);
      await copyInto(root, agentPki.server.key, AGENT_PATHS.key, 0o600);
      await put(root, AGENT_PATHS.unit, agentUnit(rt));
      w.record.units = ['kubelet.service', 'kip-agent.service'];
      await save();
      const r = await w.node.exec('sh', ['-c', 'systemctl daemon-reload && systemctl enable --now kubelet.service kip-agent.service'], { timeoutMs: 60_000 });
      if (r.exitCode !== 0) throw new LabError('LAB_UNIT_FAILED', `starting kubelet/kip-agent on ${name} failed: ${r.stderr.trim()}`);
      return w;
    }));
    progress(`kubelet ${options.version}${options.patched ? ' (patched)' : ' (unpatched)'} and kip-agent started on every worker; waiting for nodes Ready`);
    await Promise.all(workers.map((w) =>
      pollUntil(deps, `node ${w.node.name} Ready`, 120_000, async () => (isReady(await kube.getNode(w.node.name)) ? true : undefined)).catch(async (err: unknown) => {
        throw new LabError('LAB_NODE_NOT_READY', `${err instanceof Error ? err.message : String(err)}\n${await unitJournal(w.node, 'kubelet.service')}`);
      })));
    await Promise.all(workers.map((w) =>
      pollUntil(deps, `kip-agent on ${w.node.name}`, 90_000, async () => ((await unitsActive(w.node, ['kip-agent.service'])) ? true : undefined))));
    progress('all nodes Ready');

    // ---- workloads
    const plan = workloadPlan(workerNames, options.workloads);
    progress(`creating ${plan.pods.length} pods / ${plan.containers} containers in ${plan.namespaces.length + 1} namespaces (DefaultTolerationSeconds off)`);
    await createWorkloads(kube, plan);
    const count = await waitForWorkloads(kube, plan, { timeoutMs: 240_000, sleep: deps.sleep, now: deps.now, progress });
    const selectorPodNode = await removeSelectorLabel(kube, plan);
    if (selectorPodNode) progress(`removed the nodeSelector label from ${selectorPodNode} (its pod keeps running until the kubelet restarts)`);

    const memoryBytes: Record<string, number> = {};
    for (const n of nodes) {
      const rec = state.nodes.find((r) => r.name === n.name);
      memoryBytes[n.name] = (await n.rssBytes()) + (rec?.containerd ? await containerdRss(rec.containerd) : 0);
    }
    state.summary = { upMs: deps.now() - started, nodes: nodes.length, pods: count.pods, containers: count.runningContainers, memoryBytes, selectorPodNode };
    state.status = 'up';
    await save();
    return { state, teardown };
  } catch (err) {
    logger.error({ err }, 'lab bring-up failed; tearing down');
    progress(`failed: ${err instanceof Error ? err.message : String(err)}`);
    progress('tearing down what was started');
    await teardown().catch((e: unknown) => logger.error({ err: e }, 'teardown after failed bring-up'));
    throw err;
  }
}

// ---------------------------------------------------------------- sweep (down)

async function waitGone(deps: Pick<LabDeps, 'now' | 'sleep'>, pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = deps.now() + timeoutMs;
  while (pidAlive(pid)) {
    if (deps.now() > deadline) return false;
    await deps.sleep(100);
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
async function sweepContainerd(rec: LabContainerdRecord, deps: Pick<LabDeps, 'exec' | 'now' | 'sleep'>): Promise<string[]> {
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
export async function sweepLab(stateDir: string, deps: Pick<LabDeps, 'exec' | 'logger' | 'now' | 'sleep'> & { progress?: (line: string) => void }): Promise<SweepResult> {
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
      const deadline = deps.now() + 15_000;
      while ((await cg.pids()).length > 0 && deps.now() < deadline) {
        await cg.killAll();
        await deps.sleep(100);
      }
      try {
        await cg.remove();
      } catch (err) {
        problems.push(err instanceof Error ? err.message : String(err));
      }
    }
    if (node.containerd) problems.push(...(await sweepContainerd(node.containerd, deps)));
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
  readonly running: boolean;
  readonly systemd: string;
  readonly units: Readonly<Record<string, string>>;
  readonly ready?: boolean;
  readonly kubeletVersion?: string;
  readonly memoryBytes: number;
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
    const api = apiNodes.get(rec.name);
    nodes.push({ name: rec.name, role: rec.role, address: rec.address, running, systemd, units, ready: rec.role === 'worker' ? api?.ready ?? false : undefined, kubeletVersion: api?.version, memoryBytes });
  }
  const healthy = state.status === 'up' && supervisorAlive && apiserverHealthy
    && nodes.every((n) => n.running && (n.systemd === 'running' || n.systemd === 'degraded') && Object.values(n.units).every((u) => u === 'active') && n.ready !== false);
  return { state, supervisorAlive, apiserverHealthy, nodes, pods, healthy };
}

/** Appends a progress line to the state dir's up.log (what `kip-lab up` prints). */
export async function appendProgress(stateDir: string, line: string): Promise<void> {
  await appendFile(join(stateDir, PROGRESS_FILE), `${line}\n`);
}
