/**
 * Bringing the lab up, phase by phase: state record -> PKI -> control-plane node -> workers
 * (containerd on the host, node, kubelet + kip-agent units) -> nodes Ready -> workloads ->
 * summary. Each phase records what it started in lab.json before it goes on, so sweepLab() can
 * clean up from that record alone after a crash or a partial start.
 */
import { mkdir, readFile, realpath, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { KubeClient } from '../../lib/kube/index.ts';
import { bootNode, ensureBaseImage, type NspawnNode } from '../nspawn/index.ts';

type BaseImage = Awaited<ReturnType<typeof ensureBaseImage>>;
import { importBusyboxImages, startContainerd, type ContainerdHandle } from '../containerd/containerd.ts';
import { startDockerd, type DockerdHandle } from '../containerd/dockerd.ts';
import { NODE_DOCKER_SOCKET, dockerCgroupParent, dockerdRss, workerRuntime, type NodeRuntime } from './docker-workers.ts';
import { writeLauncher, LAB_KUBELET_VERSIONS } from './kubelet/launcher.ts';
import { generateLabPki, type LabPki } from './pki.ts';
import { writeLabProgram } from './launchers.ts';
import { buildLabPrograms, programsDirOf } from './programs.ts';
import { writeKipClientFiles, writeLabReleases } from './releases.ts';
import { controlPlaneImages, controlPlaneKubeletDefaults, controlPlaneManifests, staticControlPlaneAgentConfigFields } from './static-control-plane.ts';
import { memoryBreakdown as memoryBreakdown_ } from './memory.ts';
import { shimPids } from '../containerd/procs.ts';
import { ensureRoleArtifacts, installAgentsWithRole, type RoleHost } from './agents-role.ts';
import {
  AGENT_PATHS, AGENT_PORT, APISERVER_PORT, CONTROL_PLANE_PATHS, CONTROLLER_MANAGER_HEALTHZ_PORT, SCHEDULER_HEALTHZ_PORT, ETCD_CLIENT_PORT, KUBE_PROXY_PATHS, KUBELET_PATHS, KUBELET_UNIT, NODE_CONTAINERD_SOCKET, SKIP_FILE,
  agentConfigFields, agentUnit, apiserverConfig, apiserverUnit, controlPlaneAgentConfigFields, controlPlaneAgentUnit, renderAgentConfig, controllerManagerUnit, etcdUnit, kubeProxyUnit, kubeletDefaults, kubeletDropIn, nodeAddresses, schedulerUnit,
  type AgentFields, type Runtime,
} from './node-config.ts';
import { createWorkloads, removeSelectorLabel, waitForWorkloads, workloadPlan, type WorkloadPlan } from './workloads.ts';
import { ORACLE_STATIC_POD_FILE, oracleWorkloadPlan, type OracleWorkloadPlan } from './workloads-oracle.ts';
import { kubeconfigYaml, writeKubeconfig } from './kubeconfig.ts';
import { writeLabCni } from './cni.ts';
import { roleOu } from '../../lib/pki/roles.ts';
import {
  LabError, REPO_DIR, cgroupOf, type MemoryBreakdown, containerdRss, dockerdProcs, isReady, writeLabState, type LabDeps, type LabNodeRecord, type LabOptions, type LabState,
} from './lab.ts';

export interface RunningLab {
  readonly state: LabState;
  /** Stops every unit, node and containerd this supervisor started (not idempotent across processes: use sweepLab). */
  teardown(): Promise<void>;
}

const CP_NAME = 'control-plane';

async function put(root: string, path: string, content: string | Buffer, mode = 0o644): Promise<void> {
  const target = join(root, path);
  await mkdir(dirname(target), { recursive: true });
  await writeFile(target, content, { mode });
}

async function copyInto(root: string, from: string, to: string, mode = 0o644): Promise<void> {
  await put(root, to, await readFile(from), mode);
}

async function pollUntil<T>(deps: LabDeps, what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = deps.clock.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    if (deps.aborted?.()) throw new LabError('LAB_ABORTED', `stopped while waiting for ${what}`);
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    if (deps.clock.now() > deadline) {
      const why = lastErr instanceof Error ? `: ${lastErr.message}` : '';
      throw new LabError('LAB_TIMEOUT', `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${why}`, { what });
    }
    await deps.clock.sleep(250);
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

/**
 * The repository, read-only, where the node's launchers expect it; and, when node_modules is a
 * symlink out of the repository (a git worktree sharing another checkout's), its target too, or
 * the symlink dangles inside the node.
 */
async function repoMounts(): Promise<{ host: string }[]> {
  const modules = join(REPO_DIR, 'node_modules');
  const real = await realpath(modules).catch(() => modules);
  return real === modules || real.startsWith(`${REPO_DIR}/`) ? [{ host: REPO_DIR }] : [{ host: REPO_DIR }, { host: real }];
}

/** What the phases share: the options, the record and what has been started so far. */
class BringUp {
  readonly stateDir: string;
  readonly addrs: ReturnType<typeof nodeAddresses>;
  readonly workerNames: string[];
  readonly rt: Runtime;
  readonly nodes: NspawnNode[] = [];
  readonly containerds: ContainerdHandle[] = [];
  readonly dockerds: DockerdHandle[] = [];
  readonly state: LabState;
  /** --agents role: the nodes the role installs kip-agent on, filled as their files are written. */
  readonly roleHosts: RoleHost[] = [];
  private saving: Promise<void> = Promise.resolve();

  constructor(readonly options: LabOptions, readonly deps: LabDeps, readonly startedMs: number) {
    this.stateDir = resolve(options.stateDir);
    this.addrs = nodeAddresses(options.addressPrefix, options.workers);
    this.workerNames = this.addrs.workers.map((_, i) => `worker-${i + 1}`);
    this.rt = { nodeBinary: process.execPath, repoDir: REPO_DIR, programsDir: programsDirOf(options, REPO_DIR) };
    this.state = { format: 1, status: 'starting', stateDir: this.stateDir, supervisorPid: process.pid, options, startedAt: new Date(startedMs).toISOString(), nodes: [] };
  }

  /** Saves are serialized (workers boot concurrently) and each writes the latest state. */
  save(): Promise<void> {
    this.saving = this.saving.catch(() => undefined).then(() => writeLabState(this.state));
    return this.saving;
  }

  /** kip-agent by the lab itself (default) or by the Ansible role (--agents role). */
  get agentsByRole(): boolean {
    return this.options.agents === 'role';
  }

  /** The units to enable at boot: kip-agent comes later from the role in --agents role. */
  bootUnits(units: readonly string[]): string[] {
    return this.agentsByRole ? units.filter((u) => u !== 'kip-agent.service') : [...units];
  }

  get apiserverUrl(): string {
    return `https://${this.addrs.controlPlane}:${APISERVER_PORT}`;
  }

  async teardown(): Promise<void> {
    const problems: string[] = [];
    const note = (what: string) => (err: unknown) => {
      problems.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    };
    // Workers first (their kubelets would recreate pods), then their containerds, then the control plane.
    await Promise.all(this.nodes.filter((n) => n.name !== CP_NAME).map((n) => n.stop().catch(note(`node ${n.name}`))));
    await Promise.all(this.containerds.map((c) => c.stop().catch(note(`containerd ${c.dir}`))));
    await Promise.all(this.dockerds.map((d) => d.stop().catch(note(`dockerd ${d.dir}`))));
    await Promise.all(this.nodes.filter((n) => n.name === CP_NAME).map((n) => n.stop().catch(note(`node ${n.name}`))));
    if (problems.length > 0) throw new LabError('LAB_TEARDOWN_UNCLEAN', `lab teardown had problems: ${problems.join('; ')}`, { problems });
  }

  async bootRecorded(name: string, role: LabNodeRecord['role'], address: string, base: BaseImage, extra: { bindRo?: { host: string; inside?: string }[]; bind?: { host: string; inside?: string }[] }, containerd?: ContainerdHandle, dockerd?: DockerdHandle): Promise<{ node: NspawnNode; record: LabNodeRecord }> {
    const workDir = join(this.stateDir, 'nodes', name);
    const record: LabNodeRecord = { name, role, address, workDir, root: join(workDir, 'root'), units: [] };
    if (containerd) record.containerd = { dir: containerd.dir, socket: containerd.socket, pid: containerd.pid };
    if (dockerd) {
      record.runtime = 'docker';
      record.dockerd = { dir: dockerd.dir, socket: dockerd.socket, pid: dockerd.pid, cgroupParent: dockerd.cgroupParent, innerContainerdSocket: dockerd.innerContainerdSocket };
    } else if (role === 'worker') record.runtime = 'containerd';
    this.state.nodes.push(record);
    await this.save();
    const node = await bootNode({ name, base, workDir, logger: this.deps.logger, bindRo: [...(await repoMounts()), ...(extra.bindRo ?? [])], bind: extra.bind ?? [] });
    this.nodes.push(node);
    record.nspawnPid = node.nspawnPid;
    record.leaderPid = node.leaderPid;
    // nspawn moves itself into a sub-cgroup of the node's cgroup: keep kip-nspawn/<leaf>.
    record.cgroup = (await cgroupOf(node.nspawnPid))?.split('/').slice(0, 2).join('/');
    await this.save();
    return { node, record };
  }
}

interface LabPkis {
  readonly pki: LabPki;
  /** The lab's own agent PKI; undefined with --agents role (the role issues from STATE/kip-pki). */
  readonly agentPki: LabPki | undefined;
  readonly kubeconfig: string;
}

async function generatePkis(up: BringUp): Promise<LabPkis> {
  const { exec, progress } = up.deps;
  progress('generating PKI');
  const pki = await generateLabPki({
    exec,
    dir: join(up.stateDir, 'pki'),
    serverNames: ['localhost', 'kubernetes', 'kubernetes.default', up.addrs.controlPlane, '127.0.0.1'],
    clients: [
      { name: 'admin', commonName: 'kip-admin', organizations: ['system:masters'] },
      { name: 'control-plane', commonName: 'system:kube-controller-manager' },
      ...[CP_NAME, ...up.workerNames].map((n) => ({ name: `node-${n}`, commonName: `system:node:${n}`, organizations: ['system:nodes'] })),
    ],
  });
  const agentPki = up.agentsByRole ? undefined : await generateLabPki({
    exec,
    dir: join(up.stateDir, 'agent-pki'),
    // One server certificate for every agent of the lab: the control-plane node's and the workers'.
    serverNames: ['localhost', '127.0.0.1', up.addrs.controlPlane, ...up.addrs.workers],
    // The agents' role check (agent/authz.ts) lets only a coordinator certificate change a node.
    clients: [{ name: 'coordinator', commonName: 'kip-coordinator', organizationalUnits: [roleOu('coordinator')] }],
  });
  const coordinator = agentPki?.clients.coordinator;
  if (coordinator) up.state.agentPki = { ca: agentPki.ca.cert, cert: coordinator.cert, key: coordinator.key };
  const admin = pki.clients.admin;
  const kubeconfig = join(up.stateDir, 'admin.kubeconfig');
  await writeKubeconfig(kubeconfig, { server: up.apiserverUrl, caFile: pki.ca.cert, clientCertFile: admin?.cert, clientKeyFile: admin?.key, name: 'kip-lab' });
  up.state.kubeconfig = kubeconfig;
  up.state.apiserver = up.apiserverUrl;
  await up.save();
  return { pki, agentPki, kubeconfig };
}

/** The control-plane node with etcd, apiserver, scheduler and controller-manager, answering. */
async function startControlPlane(up: BringUp, base: BaseImage, pkis: LabPkis): Promise<KubeClient> {
  const { options, addrs, rt, deps } = up;
  const { pki } = pkis;
  deps.progress(`booting ${CP_NAME}`);
  // etcdctl for the agent's EtcdSnapshot (the Debian etcd-client built with this etcd).
  const staticPods = options.controlPlane === 'static-pods';
  // Static pods: the node's kubelet needs its containerd on the host, like a worker's.
  const cd = staticPods ? await startContainerd({ dir: join(up.stateDir, 'containerd', CP_NAME), exec: deps.exec, logger: deps.logger }) : undefined;
  if (cd) {
    up.containerds.push(cd);
    // The control-plane images under the manifests' names (a real node would pull them).
    await importBusyboxImages(cd, controlPlaneImages(LAB_KUBELET_VERSIONS), deps.exec);
  }
  const cp = await up.bootRecorded(CP_NAME, 'control-plane', addrs.controlPlane, base, {
    bindRo: [{ host: '/usr/bin/etcd' }, { host: '/usr/bin/etcdctl' }],
    bind: cd ? [{ host: cd.socket, inside: NODE_CONTAINERD_SOCKET }] : [],
  }, cd);
  await cp.node.waitForSystemd(90_000);
  const root = cp.node.root;
  await copyInto(root, pki.ca.cert, CONTROL_PLANE_PATHS.ca);
  await copyInto(root, pki.server.cert, CONTROL_PLANE_PATHS.serverCert);
  await copyInto(root, pki.server.key, CONTROL_PLANE_PATHS.serverKey, 0o600);
  const cpClient = pki.clients['control-plane'];
  if (cpClient) {
    await copyInto(root, cpClient.cert, CONTROL_PLANE_PATHS.clientCert);
    await copyInto(root, cpClient.key, CONTROL_PLANE_PATHS.clientKey, 0o600);
  }
  await put(root, CONTROL_PLANE_PATHS.etcdUnit, etcdUnit(addrs.controlPlane));
  await put(root, CONTROL_PLANE_PATHS.apiserverConfig, apiserverConfig({ address: addrs.controlPlane, gitVersion: options.version, defaultTolerationSeconds: false }));
  const cpKubeconfig = kubeconfigYaml({ server: up.apiserverUrl, caFile: CONTROL_PLANE_PATHS.ca, clientCertFile: CONTROL_PLANE_PATHS.clientCert, clientKeyFile: CONTROL_PLANE_PATHS.clientKey, name: 'kip-lab' });
  await put(root, CONTROL_PLANE_PATHS.schedulerKubeconfig, cpKubeconfig, 0o600);
  await put(root, CONTROL_PLANE_PATHS.controllerManagerKubeconfig, cpKubeconfig, 0o600);
  const units = staticPods ? await writeStaticControlPlane(up, cp.node, pkis) : await writeSystemdControlPlane(up, cp.node, pkis);
  cp.record.units = units;
  cp.record.agent = `${addrs.controlPlane}:${AGENT_PORT}`;
  await up.save();
  const reload = await cp.node.exec('sh', ['-c', `systemctl daemon-reload && systemctl enable --now ${up.bootUnits(units).join(' ')}`], { timeoutMs: 60_000 });
  if (reload.exitCode !== 0) throw new LabError('LAB_UNIT_FAILED', `starting ${units.join(' ')} failed: ${reload.stderr.trim()}`);
  deps.progress(`etcd, kube-apiserver, kube-scheduler, kube-controller-manager ${options.version} starting on ${addrs.controlPlane}${staticPods ? ' (static pods run by its kubelet)' : ''}`);
  await pollUntil(deps, 'etcd /health', 60_000, async () => {
    const res = await fetch(`http://${addrs.controlPlane}:${ETCD_CLIENT_PORT}/health`);
    return res.ok ? true : undefined;
  }).catch(async (err: unknown) => {
    throw new LabError('LAB_ETCD_FAILED', `${err instanceof Error ? err.message : String(err)}\n${await unitJournal(cp.node, 'etcd.service')}`);
  });
  const kube = KubeClient.fromFile(pkis.kubeconfig);
  const version = await pollUntil(deps, 'the apiserver to answer /version', 90_000, async () => (await kube.getVersion()).gitVersion).catch(async (err: unknown) => {
    throw new LabError('LAB_APISERVER_FAILED', `${err instanceof Error ? err.message : String(err)}\n${await unitJournal(cp.node, staticPods ? 'kubelet.service' : 'kube-apiserver.service')}`);
  });
  deps.progress(`apiserver ${version} ready at ${up.apiserverUrl}`);
  const started = up.bootUnits(units);
  await pollUntil(deps, `${started.filter((u) => u !== 'etcd.service').join(', ')} active`, 60_000, async () => ((await unitsActive(cp.node, started)) ? true : undefined));
  // Scheduler and controller-manager answer their healthz: the agent's probes will find them so.
  for (const [what, port] of [['kube-scheduler', SCHEDULER_HEALTHZ_PORT], ['kube-controller-manager', CONTROLLER_MANAGER_HEALTHZ_PORT]] as const) {
    await pollUntil(deps, `${what} healthz`, 90_000, async () => ((await fetch(`http://${addrs.controlPlane}:${port}/healthz`)).ok ? true : undefined));
  }
  if (staticPods) {
    await pollUntil(deps, `Node ${CP_NAME} Ready`, 90_000, async () => (isReady(await kube.getNode(CP_NAME)) ? true : undefined));
  }
  deps.progress(`kube-scheduler and kube-controller-manager running; kip-agent ${up.agentsByRole ? 'to be installed by the Ansible role' : 'on'} ${cp.record.agent}`);
  return kube;
}

/** systemd layout: a unit and a versioned launcher each (binary installs, kubespray). */
async function writeSystemdControlPlane(up: BringUp, node: NspawnNode, pkis: LabPkis): Promise<string[]> {
  const { options, addrs, rt } = up;
  const root = node.root;
  const launcher = { version: options.version, ...rt };
  await writeLabProgram(join(root, CONTROL_PLANE_PATHS.apiserverBinary), { ...launcher, program: 'kube-apiserver' });
  await put(root, CONTROL_PLANE_PATHS.apiserverUnit, apiserverUnit());
  await writeLabProgram(join(root, CONTROL_PLANE_PATHS.schedulerBinary), { ...launcher, program: 'kube-scheduler' });
  await writeLabProgram(join(root, CONTROL_PLANE_PATHS.controllerManagerBinary), { ...launcher, program: 'kube-controller-manager' });
  await put(root, CONTROL_PLANE_PATHS.schedulerUnit, schedulerUnit(addrs.controlPlane));
  await put(root, CONTROL_PLANE_PATHS.controllerManagerUnit, controllerManagerUnit(addrs.controlPlane));
  await writeAgentFiles(up, node, 'control_plane', addrs.controlPlane, pkis, controlPlaneAgentConfigFields({ nodeName: CP_NAME, address: addrs.controlPlane }), controlPlaneAgentUnit(rt));
  return ['etcd.service', 'kube-apiserver.service', 'kube-scheduler.service', 'kube-controller-manager.service', 'kip-agent.service'];
}

/** kubeadm layout: the node's kubelet (upstream behaviour, kip's hashes) runs the three as static pods from the releases folder. */
async function writeStaticControlPlane(up: BringUp, node: NspawnNode, pkis: LabPkis): Promise<string[]> {
  const { options, addrs, rt } = up;
  const root = node.root;
  const { pki } = pkis;
  const releases = up.state.kip?.releases;
  if (!releases) throw new LabError('LAB_RELEASES_MISSING', 'the releases folder must be written before a static-pod control plane starts');
  await writeLauncher(join(root, KUBELET_PATHS.binary), { version: options.version, ...rt });
  await put(root, KUBELET_PATHS.unit, KUBELET_UNIT);
  await put(root, KUBELET_PATHS.dropIn, kubeletDropIn(options.version));
  await put(root, KUBELET_PATHS.defaults, controlPlaneKubeletDefaults({ nodeName: CP_NAME, address: addrs.controlPlane, syncIntervalMs: options.syncIntervalMs, releasesDir: releases, hostRoot: root }));
  for (const m of controlPlaneManifests(options.version, addrs.controlPlane)) await put(root, m.path, m.text);
  const nodeCert = pki.clients[`node-${CP_NAME}`];
  if (!nodeCert) throw new LabError('LAB_PKI_MISSING', `no client certificate for ${CP_NAME}`);
  await copyInto(root, nodeCert.cert, KUBELET_PATHS.clientCert);
  await copyInto(root, nodeCert.key, KUBELET_PATHS.clientKey, 0o600);
  await put(root, KUBELET_PATHS.kubeconfig, kubeconfigYaml({ server: up.apiserverUrl, caFile: KUBELET_PATHS.ca, clientCertFile: KUBELET_PATHS.clientCert, clientKeyFile: KUBELET_PATHS.clientKey, name: 'kip-lab' }), 0o600);
  await writeAgentFiles(up, node, 'control_plane', addrs.controlPlane, pkis, staticControlPlaneAgentConfigFields({ nodeName: CP_NAME, address: addrs.controlPlane }), agentUnit(rt));
  return ['etcd.service', 'kubelet.service', 'kip-agent.service'];
}

/** One worker's files: kubelet launcher, unit, drop-in, defaults, PKI, kubeconfig, agent, static pod. */
async function writeWorkerFiles(up: BringUp, node: NspawnNode, name: string, address: string, pkis: LabPkis, staticPod: Record<string, unknown> | undefined, runtime: NodeRuntime = 'containerd'): Promise<void> {
  const { options, rt } = up;
  const { pki } = pkis;
  const root = node.root;
  await writeLauncher(join(root, KUBELET_PATHS.binary), { version: options.version, skipFilePath: options.patched ? SKIP_FILE : undefined, ...rt });
  await put(root, KUBELET_PATHS.unit, KUBELET_UNIT);
  await put(root, KUBELET_PATHS.dropIn, kubeletDropIn(options.version, runtime));
  await put(root, KUBELET_PATHS.defaults, kubeletDefaults({ nodeName: name, address, nodeLabels: { 'lab.kip.io/pool': 'workers' }, syncIntervalMs: options.syncIntervalMs, hashes: options.hashes, podNetwork: true }));
  if (staticPod) await put(root, join(KUBELET_PATHS.manifests, ORACLE_STATIC_POD_FILE), `${JSON.stringify(staticPod, null, 2)}\n`);
  else await mkdir(join(root, KUBELET_PATHS.manifests), { recursive: true });
  await copyInto(root, pki.ca.cert, KUBELET_PATHS.ca);
  const nodeCert = pki.clients[`node-${name}`];
  if (!nodeCert) throw new LabError('LAB_PKI_MISSING', `no client certificate for ${name}`);
  await copyInto(root, nodeCert.cert, KUBELET_PATHS.clientCert);
  await copyInto(root, nodeCert.key, KUBELET_PATHS.clientKey, 0o600);
  await put(root, KUBELET_PATHS.kubeconfig, kubeconfigYaml({ server: up.apiserverUrl, caFile: KUBELET_PATHS.ca, clientCertFile: KUBELET_PATHS.clientCert, clientKeyFile: KUBELET_PATHS.clientKey, name: 'kip-lab' }), 0o600);
  await writeLabProgram(join(root, KUBE_PROXY_PATHS.binary), { program: 'kube-proxy', version: options.version, ...rt });
  await put(root, KUBE_PROXY_PATHS.unit, kubeProxyUnit({ nodeName: name, address }));
  await writeAgentFiles(up, node, 'workers', address, pkis, agentConfigFields({ nodeName: name, address, runtime }), agentUnit(rt));
}

/**
 * kip-agent's config, unit and TLS material (one server certificate for every lab agent); with
 * --agents role only the fields are kept, for the role's variables (agents-role.ts).
 */
async function writeAgentFiles(up: BringUp, node: NspawnNode, group: RoleHost['group'], address: string, pkis: LabPkis, fields: AgentFields, unit: string): Promise<void> {
  const { agentPki } = pkis;
  if (!agentPki) {
    up.roleHosts.push({ name: node.name, group, address, leaderPid: node.leaderPid, fields });
    return;
  }
  const root = node.root;
  await put(root, AGENT_PATHS.config, renderAgentConfig(fields));
  await copyInto(root, agentPki.ca.cert, AGENT_PATHS.ca);
  await copyInto(root, agentPki.server.cert, AGENT_PATHS.cert);
  await copyInto(root, agentPki.server.key, AGENT_PATHS.key, 0o600);
  await put(root, AGENT_PATHS.unit, unit);
}

/** Every worker: its containerd or dockerd on the host (--runtime), its node, kubelet and kip-agent started. */
async function startWorkers(up: BringUp, base: BaseImage, pkis: LabPkis, staticPod: Record<string, unknown> | undefined): Promise<NspawnNode[]> {
  const { deps, workerNames, addrs, options } = up;
  const runtimes = workerNames.map((_, i) => workerRuntime(options.runtime, i));
  const dockerCount = runtimes.filter((r) => r === 'docker').length;
  deps.progress(`starting ${runtimes.length - dockerCount} containerd(s) and ${dockerCount} dockerd(s) on the host (${workerNames.map((n, i) => `${n} ${runtimes[i]}`).join(', ')})`);
  const daemons = await Promise.all(workerNames.map(async (name, i): Promise<{ containerd?: ContainerdHandle; dockerd?: DockerdHandle }> => {
    if (runtimes[i] === 'docker') {
      const dockerd = await startDockerd({ dir: join(up.stateDir, 'dockerd', name), exec: deps.exec, cgroupParent: dockerCgroupParent(up.stateDir, name) });
      up.dockerds.push(dockerd);
      return { dockerd };
    }
    const cd = await startContainerd({ dir: join(up.stateDir, 'containerd', name), exec: deps.exec, logger: deps.logger });
    up.containerds.push(cd);
    await writeLabCni(cd.dir);
    return { containerd: cd };
  }));
  deps.progress(`booting ${workerNames.join(', ')}`);
  const workers = await Promise.all(workerNames.map(async (name, i) => {
    const address = addrs.workers[i]!;
    const { containerd, dockerd } = daemons[i]!;
    const bind = dockerd ? { host: dockerd.socket, inside: NODE_DOCKER_SOCKET } : { host: containerd!.socket, inside: NODE_CONTAINERD_SOCKET };
    const w = await up.bootRecorded(name, 'worker', address, base, { bind: [bind] }, containerd, dockerd);
    await w.node.waitForSystemd(90_000);
    await writeWorkerFiles(up, w.node, name, address, pkis, staticPod, runtimes[i]);
    w.record.units = ['kubelet.service', 'kube-proxy.service', 'kip-agent.service'];
    w.record.agent = `${address}:${AGENT_PORT}`;
    await up.save();
    const r = await w.node.exec('sh', ['-c', `systemctl daemon-reload && systemctl enable --now ${up.bootUnits(w.record.units).join(' ')}`], { timeoutMs: 60_000 });
    if (r.exitCode !== 0) throw new LabError('LAB_UNIT_FAILED', `starting kubelet/kube-proxy/kip-agent on ${name} failed: ${r.stderr.trim()}`);
    return w.node;
  }));
  deps.progress(`kubelet ${options.version}${options.patched ? ' (patched)' : ' (unpatched)'}, hashes from ${options.hashes === 'vectors' ? 'the golden vectors (oracle)' : "kip's engine"}${up.agentsByRole ? '' : ', and kip-agent'} started on every worker; waiting for nodes Ready`);
  return workers;
}

async function waitWorkersReady(up: BringUp, kube: KubeClient, workers: readonly NspawnNode[]): Promise<void> {
  const { deps } = up;
  await Promise.all(workers.map((node) =>
    pollUntil(deps, `node ${node.name} Ready`, 120_000, async () => (isReady(await kube.getNode(node.name)) ? true : undefined)).catch(async (err: unknown) => {
      throw new LabError('LAB_NODE_NOT_READY', `${err instanceof Error ? err.message : String(err)}\n${await unitJournal(node, 'kubelet.service')}`);
    })));
  const units = up.bootUnits(['kip-agent.service', 'kube-proxy.service']);
  await Promise.all(workers.map((node) =>
    pollUntil(deps, `${units.join(' and ')} on ${node.name}`, 90_000, async () => ((await unitsActive(node, units)) ? true : undefined))));
  deps.progress('all nodes Ready');
}

/**
 * --agents role: one ansible-playbook run of the kip_agent role over every node, installing the
 * packaged agent; the role returns once each agent answers kip ping. The coordinator certificate
 * for kip and the lab's record comes from the role's CA.
 */
async function installAgentsByRole(up: BringUp): Promise<void> {
  const { deps } = up;
  const artifacts = await ensureRoleArtifacts(deps.exec, { artifact: up.options.agentArtifact, kipCli: up.options.kipCli }, deps.progress);
  deps.progress(`installing kip-agent on ${up.roleHosts.map((h) => h.name).join(', ')} with the Ansible role (ansible-playbook, ${artifacts.artifact})`);
  const started = deps.clock.now();
  const r = await installAgentsWithRole({ stateDir: up.stateDir, hosts: up.roleHosts, artifacts, clock: deps.clock });
  up.state.agentPki = r.agentPki;
  for (const rec of up.state.nodes) if (up.roleHosts.some((h) => h.name === rec.name)) rec.agentByRole = true;
  await up.save();
  const changed = Object.entries(r.playbook.stats).map(([h, st]) => `${h} changed=${st.changed}`).join(', ');
  deps.progress(`kip-agent installed by the role and answering kip ping in ${((deps.clock.now() - started) / 1000).toFixed(1)} s (${changed}; inventory ${r.inventory})`);
}

/** What kip needs to drive this lab as a user drives a cluster: releases, --pki-dir, --inventory. */
async function writeReleases(up: BringUp): Promise<void> {
  const releases = await writeLabReleases(up.stateDir, { rt: up.rt, skipFilePath: up.options.patched ? SKIP_FILE : undefined });
  up.state.kip = { releases, pkiDir: '', inventory: '' };
  await up.save();
}

async function writeKipFiles(up: BringUp): Promise<void> {
  const releases = up.state.kip?.releases ?? '';
  const agentPki = up.state.agentPki;
  if (!agentPki) throw new LabError('LAB_PKI_MISSING', 'no coordinator certificate in the agent PKI');
  const cp = up.state.nodes.filter((n) => n.role === 'control-plane' && n.agent !== undefined).map((n) => ({ name: n.name, address: n.agent as string }));
  const files = await writeKipClientFiles(up.stateDir, agentPki, cp);
  up.state.kip = { releases, ...files };
  await up.save();
  up.deps.progress(`for kip: --releases ${releases} --pki-dir ${files.pkiDir} --inventory ${files.inventory}`);
}

/** The plan for this lab: kip's realistic pods, or (oracle) pods made only of golden vectors. */
export function labWorkloadPlan(options: Pick<LabOptions, 'hashes' | 'workloads'>, workerNames: readonly string[]): WorkloadPlan | OracleWorkloadPlan {
  return options.hashes === 'vectors' ? oracleWorkloadPlan(workerNames, options.workloads) : workloadPlan(workerNames, options.workloads);
}

async function createLabWorkloads(up: BringUp, kube: KubeClient, plan: WorkloadPlan): Promise<{ pods: number; runningContainers: number; selectorPodNode?: string }> {
  const { deps } = up;
  // Worker static pods (oracle plan), and the control plane's three in the static-pods layout (one container each).
  const statics = ('staticPod' in plan ? up.workerNames.length : 0) + (up.options.controlPlane === 'static-pods' ? 3 : 0);
  deps.progress(`creating ${plan.pods.length} pods / ${plan.containers} containers in ${plan.namespaces.length + 1} namespaces (DefaultTolerationSeconds off)${statics ? `, plus ${statics} static pods` : ''}`);
  await createWorkloads(kube, plan);
  const count = await waitForWorkloads(kube, plan, { timeoutMs: 240_000, clock: deps.clock, progress: deps.progress, extraPods: statics });
  const selectorPodNode = await removeSelectorLabel(kube, plan);
  if (selectorPodNode) deps.progress(`removed the nodeSelector label from ${selectorPodNode} (its pod keeps running until the kubelet restarts)`);
  return { pods: count.pods, runningContainers: count.runningContainers, selectorPodNode };
}

async function recordSummary(up: BringUp, count: { pods: number; runningContainers: number; selectorPodNode?: string }): Promise<void> {
  const memoryBytes: Record<string, number> = {};
  const memoryBreakdown: Record<string, MemoryBreakdown> = {};
  for (const n of up.nodes) {
    const rec = up.state.nodes.find((r) => r.name === n.name);
    memoryBytes[n.name] = (await n.rssBytes()) + (rec?.containerd ? await containerdRss(rec.containerd) : 0) + (rec?.dockerd ? await dockerdRss(rec.dockerd, dockerdProcs) : 0);
    const daemon = rec?.containerd ?? (rec?.dockerd ? { pid: rec.dockerd.pid, socket: rec.dockerd.innerContainerdSocket } : undefined);
    const roots = daemon ? [daemon.pid, ...(await shimPids(daemon.socket))] : [];
    memoryBreakdown[n.name] = await memoryBreakdown_(await n.pids(), roots);
  }
  up.state.summary = { upMs: up.deps.clock.now() - up.startedMs, nodes: up.nodes.length, pods: count.pods, containers: count.runningContainers, memoryBytes, memoryBreakdown, selectorPodNode: count.selectorPodNode };
  up.state.status = 'up';
  await up.save();
}

/**
 * Brings the whole lab up. On failure everything started so far is stopped before the error is
 * rethrown. The supervisor must keep running while the lab is up (it owns the processes).
 */
export async function bringUpLab(options: LabOptions, deps: LabDeps): Promise<RunningLab> {
  if (!(LAB_KUBELET_VERSIONS as readonly string[]).includes(options.version)) {
    throw new LabError('LAB_BAD_ARGUMENT', `no lab kubelet for ${options.version} (have ${LAB_KUBELET_VERSIONS.join(', ')})`, { version: options.version });
  }
  const up = new BringUp(options, deps, deps.clock.now());
  // The plan first: a workload the oracle cannot answer for fails here, before anything starts.
  const plan = labWorkloadPlan(options, up.workerNames);
  await mkdir(up.stateDir, { recursive: true, mode: 0o700 });
  await up.save();
  try {
    deps.progress(`state dir ${up.stateDir}; nodes: ${CP_NAME} ${up.addrs.controlPlane}, ${up.workerNames.map((n, i) => `${n} ${up.addrs.workers[i]}`).join(', ')}`);
    if (up.rt.programsDir) {
      const started = deps.clock.now();
      const built = await buildLabPrograms(REPO_DIR);
      deps.progress(`lab programs bundled (${built.map((b) => `${b.program} ${(b.bytes / 2 ** 20).toFixed(1)} MiB`).join(', ')}) in ${((deps.clock.now() - started) / 1000).toFixed(1)} s`);
    }
    const base = await ensureBaseImage({ logger: deps.logger });
    const pkis = await generatePkis(up);
    await writeReleases(up);
    const kube = await startControlPlane(up, base, pkis);
    const workers = await startWorkers(up, base, pkis, 'staticPod' in plan ? plan.staticPod : undefined);
    await waitWorkersReady(up, kube, workers);
    if (up.agentsByRole) await installAgentsByRole(up);
    await writeKipFiles(up);
    await recordSummary(up, await createLabWorkloads(up, kube, plan));
    return { state: up.state, teardown: () => up.teardown() };
  } catch (err) {
    deps.logger.error({ err }, 'lab bring-up failed; tearing down');
    deps.progress(`failed: ${err instanceof Error ? err.message : String(err)}`);
    deps.progress('tearing down what was started');
    await up.teardown().catch((e: unknown) => deps.logger.error({ err: e }, 'teardown after failed bring-up'));
    throw err;
  }
}
