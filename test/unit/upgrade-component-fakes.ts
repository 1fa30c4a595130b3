/**
 * A fake node for runs of components other than the kubelet: real files under a temp root, a
 * simulated systemd with several units (each "runs" whatever binary sits at its path), a fake
 * container runtime that runs what a static pod manifest names (as a kubelet would), and a fake
 * ComponentsPort (discovery and holds). The machine, the steps and the file adapter are real.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../lib/logger.ts';
import { systemClock } from '../../lib/clock.ts';
import { ComponentNotOnNodeError, UnknownComponentNameError, COMPONENT_NAMES, isComponentName, parseStaticPodManifest, defaultHealthProbe, type Component } from '../../agent/components/index.ts';
import { UpgradeAgent } from '../../agent/upgrade/agent.ts';
import { ComponentService } from '../../agent/server-components.ts';
import type { HoldStore } from '../../agent/components/index.ts';
import { nodeFileSystem } from '../../agent/upgrade/fs.ts';
import type { ComponentsPort, FaultHook, HealthPort, KubeletBinaryPort, ProcPort, StaticPodRuntimePort, SystemdPort, UnitInfo } from '../../agent/upgrade/ports.ts';
import { StageStore } from '../../agent/upgrade/stage.ts';
import type { ContainerInfo } from '../../agent/runtime/types.ts';
import { KubeLabel } from '../../agent/runtime/index.ts';
import { fakeFlags, sha256 } from './upgrade-fakes.ts';

/** A stand-in binary: prints `Kubernetes <version>`, names itself in a usage line; CRASH crash-loops. */
export function componentBinary(program: string, version: string, opts: { crash?: boolean } = {}): Buffer {
  return Buffer.from(`#!/bin/sh\n# Usage:\n#   ${program} [flags]\necho Kubernetes ${version}\n${opts.crash ? '# CRASH\n' : ''}`);
}

interface FakeUnit {
  binary: string;
  active: boolean;
  pid: number;
  startUsec: number;
  nRestarts: number;
  crash: boolean;
  needReload: boolean;
}

export const MANIFESTS = '/etc/kubernetes/manifests';

export class ComponentNode {
  readonly units = new Map<string, FakeUnit>();
  readonly holds = new Map<string, string>();
  /** Components discovery finds: name -> how it runs. */
  readonly runs = new Map<string, { kind: 'systemd'; unit: string; binary: string; args: string[] } | { kind: 'static-pod'; manifest: string }>();
  containers: ContainerInfo[] = [];
  /** When false, the fake kubelet does not act on manifest changes. */
  kubeletActs = true;
  private nextPid = 2000;
  private nextId = 1;
  events: string[] = [];

  constructor(readonly root: string) {}

  host(p: string): string {
    return path.join(this.root, p);
  }

  async put(p: string, data: string | Buffer, mode = 0o644): Promise<void> {
    await mkdir(path.dirname(this.host(p)), { recursive: true });
    await writeFile(this.host(p), data, { mode });
  }

  async read(p: string): Promise<string | undefined> {
    return readFile(this.host(p), 'utf8').catch(() => undefined);
  }

  async addUnit(name: string, unit: string, binary: string, bin: Buffer, args: string[]): Promise<void> {
    await this.put(binary, bin, 0o755);
    await this.put(`/etc/systemd/system/${unit}`, `[Service]\nExecStart=${binary} ${args.join(' ')}\n`);
    this.units.set(unit, { binary, active: false, pid: 0, startUsec: 0, nRestarts: 0, crash: false, needReload: false });
    this.runs.set(name, { kind: 'systemd', unit, binary, args });
    await this.launch(unit);
  }

  async addStaticPod(name: string, manifestText: string): Promise<void> {
    const manifest = `${MANIFESTS}/${name}.yaml`;
    await this.put(manifest, manifestText, 0o600);
    this.runs.set(name, { kind: 'static-pod', manifest });
    await this.kubeletSync();
  }

  async launch(unit: string): Promise<void> {
    const u = this.units.get(unit);
    if (!u) return;
    const text = (await this.read(u.binary)) ?? '';
    u.crash = text.includes('CRASH');
    u.active = true;
    u.pid = this.nextPid++;
    u.startUsec = Date.now() * 1000;
  }

  /** What the kubelet would do: run one container per static pod manifest, with its image. */
  async kubeletSync(): Promise<void> {
    if (!this.kubeletActs) return;
    for (const [name, r] of this.runs) {
      if (r.kind !== 'static-pod') continue;
      const text = await this.read(r.manifest);
      const mine = this.containers.filter((c) => c.labels[KubeLabel.containerName] === name);
      if (text === undefined) {
        for (const c of mine) (c as { state: string }).state = 'exited';
        continue;
      }
      const m = parseStaticPodManifest(text, r.manifest, name);
      const running = mine.find((c) => c.state === 'running');
      if (running?.image === m.image) continue;
      if (running) (running as { state: string }).state = 'exited';
      this.containers.push({
        id: `c${String(this.nextId++).padStart(12, '0')}`,
        podSandboxId: 's1',
        name: m.container,
        attempt: mine.length,
        state: 'running',
        createdAtNs: BigInt(Date.now()) * 1_000_000n,
        labels: { [KubeLabel.containerName]: m.container, [KubeLabel.podName]: `${m.podName}-node-1` },
        annotations: {},
        image: m.image,
        imageRef: m.image,
      });
    }
  }

  readonly systemd: SystemdPort = {
    unitInfo: async (unit): Promise<UnitInfo> => {
      const u = this.units.get(unit);
      if (u?.active && u.crash) {
        u.pid = this.nextPid++;
        u.nRestarts += 1;
      }
      const dropIns: string[] = [];
      const dir = this.host(`/etc/systemd/system/${unit}.d`);
      for (const f of (await nodeFileSystem.list(dir)).sort()) dropIns.push(`/etc/systemd/system/${unit}.d/${f}`);
      return {
        activeState: u?.active ? 'active' : 'inactive',
        subState: u?.active ? 'running' : 'dead',
        mainPid: u?.active ? u.pid : 0,
        execMainStartUsec: u?.startUsec ?? 0,
        nRestarts: u?.nRestarts ?? 0,
        fragmentPath: u ? `/etc/systemd/system/${unit}` : '',
        dropInPaths: dropIns,
        environmentFiles: [],
        privateTmp: false,
        mountOptions: { temporaryFileSystem: [], rootDirectory: '', rootImage: '', inaccessiblePaths: [], bindPaths: [], protectHome: 'no' },
        execStart: u ? [u.binary] : [],
        needDaemonReload: u?.needReload ?? false,
      };
    },
    stop: async (unit) => {
      this.events.push(`stop ${unit}`);
      const u = this.units.get(unit);
      if (u) {
        u.active = false;
        u.pid = 0;
      }
    },
    start: async (unit) => {
      this.events.push(`start ${unit}`);
      const u = this.units.get(unit);
      // A held unit's start job is skipped (its hold drop-in's condition fails), as systemd does.
      const name = [...this.runs].find(([, r]) => r.kind === 'systemd' && r.unit === unit)?.[0];
      if (name && this.holds.has(name)) return;
      if (u && !u.active) await this.launch(unit);
    },
    daemonReload: async () => {
      for (const u of this.units.values()) u.needReload = false;
    },
  };

  readonly proc: ProcPort = {
    process: async (pid) => {
      for (const u of this.units.values()) if (u.active && u.pid === pid) return { exe: u.binary, argv: [u.binary] };
      return undefined;
    },
    statAs: async () => undefined,
    readAs: async () => undefined,
  };

  /** Health by URL: port 1 + index of the component; ok when its unit is active and not crashing, or its container runs. */
  readonly health: HealthPort = {
    healthz: async (url) => {
      for (const [name, r] of this.runs) {
        if (healthUrl(name) !== url) continue;
        if (r.kind === 'systemd') {
          const u = this.units.get(r.unit);
          return u?.active && !u.crash ? { ok: true, detail: 'ok' } : { ok: false, detail: 'connection refused' };
        }
        await this.kubeletSync();
        const c = this.containers.find((x) => x.labels[KubeLabel.containerName] === name && x.state === 'running');
        return c && !c.image.includes('crash') ? { ok: true, detail: 'ok' } : { ok: false, detail: 'connection refused' };
      }
      return { ok: false, detail: `no such endpoint ${url}` };
    },
  };

  readonly runtime: StaticPodRuntimePort = {
    version: async () => ({ runtimeName: 'fake', runtimeVersion: '1', runtimeApiVersion: 'v1' }) as never,
    listContainers: async (filter) => {
      await this.kubeletSync();
      const sel = filter?.labelSelector ?? {};
      return this.containers.filter((c) => Object.entries(sel).every(([k, v]) => c.labels[k] === v));
    },
    listPodSandboxes: async () => [],
    containerStatus: async () => {
      throw new Error('unused');
    },
  };

  readonly components: ComponentsPort = {
    resolve: async (name) => {
      if (!isComponentName(name)) throw new UnknownComponentNameError(name, COMPONENT_NAMES);
      const r = this.runs.get(name);
      if (!r) throw new ComponentNotOnNodeError(name, [...this.runs.keys()]);
      if (r.kind === 'systemd') {
        const version = /Kubernetes (v\S+)/.exec((await this.read(r.binary)) ?? '')?.[1] ?? '';
        return { name, runtime: { kind: 'systemd', unit: r.unit, binary: r.binary, unitFile: `/etc/systemd/system/${r.unit}`, dropIns: [], envFiles: [], configFiles: [] }, version, health: { url: healthUrl(name), insecureSkipVerify: false, source: 'test' }, args: r.args, origin: 'discovered' } satisfies Component;
      }
      const where = this.holds.has(name) ? this.components.heldManifestPath(r.manifest) : r.manifest;
      const text = await this.read(where);
      const m = parseStaticPodManifest(text ?? '', where, name);
      void defaultHealthProbe;
      return { name, runtime: { kind: 'static-pod', manifest: r.manifest, container: m.container, image: m.image }, version: m.version, health: { url: healthUrl(name), insecureSkipVerify: false, source: 'test' }, args: m.args, origin: 'discovered' } satisfies Component;
    },
    holdPhase: async (name) => this.holds.get(name),
    heldManifestPath: (manifest) => path.posix.join(path.posix.dirname(path.posix.dirname(manifest)), 'kip-held', path.posix.basename(manifest)),
  };
}

export function healthUrl(name: string): string {
  return `http://127.0.0.1:${10_000 + COMPONENT_NAMES.indexOf(name as never)}/healthz`;
}

/** Reads versions and the usage line the way the real port does, from the script's text. */
export const fakeBinaries: KubeletBinaryPort = {
  version: async (p) => {
    const v = /Kubernetes\s+(v\S+)/.exec(await readFile(p, 'utf8'))?.[1];
    if (!v) throw new Error(`${p} prints no version`);
    return v;
  },
  isPatched: async () => false,
  program: async (p) => /Usage:\n#\s+(\S+)/.exec(await readFile(p, 'utf8'))?.[1],
};

export function apiserverManifest(version: string, extraArgs: string[] = [], image = `k8s.gcr.io/kube-apiserver:${version}`): string {
  return [
    'apiVersion: v1',
    'kind: Pod',
    'metadata:',
    '  name: kube-apiserver',
    '  namespace: kube-system',
    'spec:',
    '  hostNetwork: true',
    '  containers:',
    '  # the kubeadm layout: every flag in command',
    '  - name: kube-apiserver',
    `    image: ${image}`,
    '    command:',
    '    - kube-apiserver',
    '    - --secure-port=6443',
    ...extraArgs.map((a) => `    - ${a}`),
    '',
  ].join('\n');
}

export interface ComponentHarness {
  readonly node: ComponentNode;
  readonly stateDir: string;
  makeAgent(o?: { fault?: FaultHook; verifyTimeoutMs?: number; recovery?: 'resume' | 'rollback' }): { agent: UpgradeAgent; stage: StageStore };
  stage(stage: StageStore, component: string, version: string, data: Buffer): Promise<void>;
  cleanup(): Promise<void>;
}

export async function makeComponentHarness(): Promise<ComponentHarness> {
  const root = await mkdtemp(path.join(tmpdir(), 'kip-components-'));
  const stateDir = path.join(root, 'var/lib/kip-agent');
  const node = new ComponentNode(root);
  // A kubelet too: one run per node, whatever the component.
  await node.addUnit('kubelet', 'kubelet.service', '/usr/bin/kubelet', componentBinary('kubelet', 'v1.15.3'), ['--v=2']);
  return {
    node,
    stateDir,
    makeAgent(o = {}) {
      const logger = silentLogger();
      const stage = new StageStore({ fs: nodeFileSystem, kubelet: fakeBinaries, stateDir, skipFilePath: '/tmp/cache.version.save', logger });
      const agent = new UpgradeAgent(
        {
          nodeName: 'node-1',
          agentVersion: '0.1.0',
          stateDir,
          rootPrefix: root,
          kubeletBinary: '/usr/bin/kubelet',
          kubeletUnit: 'kubelet.service',
          skipFile: '/tmp/cache.version.save',
          healthzUrl: healthUrl('kubelet'),
          verifyTimeoutMs: o.verifyTimeoutMs ?? 1_000,
          stableMs: 30,
          pollMs: 5,
          journalLines: 10,
          backupPaths: [],
          recovery: o.recovery ?? 'resume',
        },
        { fs: nodeFileSystem, systemd: node.systemd, journal: { tail: async () => ['component log line'] }, kubelet: fakeBinaries, flags: fakeFlags, health: node.health, proc: node.proc, clock: systemClock, fault: o.fault ?? { at: async () => {} }, logger, stage, components: node.components, runtime: node.runtime },
      );
      return { agent, stage };
    },
    async stage(stage, component, version, data) {
      async function* one(): AsyncGenerator<Buffer> {
        yield data;
      }
      await stage.stage({ version, sha256: sha256(data), size: data.length, component }, one());
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

/**
 * The agent's ComponentService over the fake node's holds, its run hooks wired to `agent` as
 * agent/run.ts wires them: Release of a held component removes the hold and starts `unit`.
 */
export function releaseService(node: ComponentNode, agent: UpgradeAgent, unit: string): ComponentService {
  const holds = {
    get: async (name: string) => (node.holds.has(name) ? { component: name, phase: 'held', sinceMs: 0 } : undefined),
    release: async (name: string) => {
      if (!node.holds.delete(name)) return { component: name, changed: false, started: false };
      await node.systemd.start(unit);
      return { component: name, changed: true, started: true };
    },
  } as unknown as HoldStore;
  const service = new ComponentService({ discovery: {} as never, configs: [], holds, snapshots: {} as never, etcd: { endpoints: [] } as never, logger: silentLogger() });
  service.setRunHooks({ assertNoRunOf: (n) => agent.assertNoRunOf(n), verifyReleased: (n, since, only) => agent.verifyReleased(n, since, only), withClaim: (kind, name, fn) => agent.claim.with(kind, name, fn) });
  return service;
}
