/**
 * A fake fleet and cluster for the control-plane engine, with the agent contract of issue 9: an
 * Upgrade of a HELD component swaps its files and leaves it held (run SUCCEEDED, start/verify
 * skipped); Release starts it and fails (kip code) when it is unhealthy; Hold/Release are
 * idempotent; Upgrade is idempotent per run id (a second call re-attaches and replays). The world
 * lives in a JSON file written atomically, so a coordinator killed with kill -9 and the next one see
 * the same world, and an agent run goes on while the coordinator is dead (it is time-based).
 */
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { V1Node, V1Pod, V1Toleration } from '@kubernetes/client-node';
import type { AgentPort, EtcdSnapshotInfo, StepEvent, WatchEvent } from '../../coordinator/fleet/port.ts';
import type { ClusterApi } from '../../coordinator/ports.ts';
import { KipError } from '../../lib/errors.ts';
import { parseJson } from '../../lib/knowledge/hash/index.ts';
import { parseRealVersion } from '../../lib/knowledge/version.ts';
import { memoryLock } from './cli-fakes.ts';

export interface CpComponent { version: string; held: boolean; running: boolean }

export interface CpExecution { runId: string; node: string; component: string; from?: string; to: string; startedAt: number; durationMs: number; fail: boolean; rolledBack?: boolean }

export interface CpWorld {
  apiserverVersion: string;
  nodes: { name: string; kubelet: string; zone: string; components: Record<string, CpComponent> }[];
  executions: CpExecution[];
  /** What the agents and the cluster were asked to do, in order ("hold cp1 kube-scheduler", ...). */
  log: string[];
  pods: { namespace: string; name: string; node: string; uid: string; tolerations: V1Toleration[]; restarts: number; phase: string }[];
  /** DefaultTolerationSeconds admission on (a pod update adds the tolerations). */
  admission: boolean;
  /** The apiserver answers nothing until this time (unix ms). */
  apiserverDownUntil: number;
  /** After an apiserver swap, how long it stays away. */
  apiserverDownMs: number;
  /**
   * Components ("node/component") whose Release fails health (COMPONENT_UNHEALTHY naming the run)
   * while they run the version a held swap installed, every time, as the real agent answers a
   * repeated Release; until the test removes the entry (the operator fixed it) or Rollback.
   */
  releaseFails: string[];
  /** Nodes/components whose next upgrade rolls back ("node/component"). */
  upgradeFails: string[];
  watch: (WatchEvent & { node: string })[];
  /** Watch sequences at or below this are expired on every agent. */
  watchOldest: number;
  snapshots: { id: string; node: string; data: string }[];
  durationMs: number;
  /** Nodes whose kubelet binaries are upstream (GetNode says kubelet_patched false); absent: none. */
  unpatched?: string[];
  /** Per node, what HashReport answers as stale at any target; a node absent: the agent has no HashReport. */
  stale?: Record<string, string[]>;
}

export class CpWorldFile {
  constructor(readonly path: string) {}

  read(): CpWorld {
    return JSON.parse(readFileSync(this.path, 'utf8')) as CpWorld;
  }

  write(w: CpWorld): void {
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify(w));
    const fd = openSync(tmp, 'r');
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, this.path);
  }

  update(fn: (w: CpWorld) => void): CpWorld {
    const w = this.read();
    fn(w);
    this.write(w);
    return w;
  }
}

const CP = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'];

export function makeCpWorld(path: string, options: { from?: string; workers?: number; extra?: Partial<CpWorld> } = {}): CpWorldFile {
  const from = options.from ?? 'v1.12.10';
  const comp = (): CpComponent => ({ version: from, held: false, running: true });
  const workers = Array.from({ length: options.workers ?? 2 }, (_, i) => ({ name: `w${i + 1}`, kubelet: from, zone: '', components: { kubelet: comp(), 'kube-proxy': comp() } }));
  const world = new CpWorldFile(path);
  world.write({
    apiserverVersion: from,
    nodes: [{ name: 'cp1', kubelet: from, zone: '', components: Object.fromEntries([...CP, 'kubelet'].map((c) => [c, comp()])) }, ...workers],
    executions: [], log: [],
    pods: [
      { namespace: 'default', name: 'web', node: 'w1', uid: 'u-web', tolerations: [], restarts: 0, phase: 'Running' },
      { namespace: 'default', name: 'db', node: 'w2', uid: 'u-db', tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }], restarts: 0, phase: 'Running' },
      { namespace: 'kube-system', name: 'dns', node: 'cp1', uid: 'u-dns', tolerations: [{ operator: 'Exists' }], restarts: 0, phase: 'Running' },
    ],
    admission: true, apiserverDownUntil: 0, apiserverDownMs: 0, releaseFails: [], upgradeFails: [], watch: [], watchOldest: 0, snapshots: [], durationMs: 30,
    ...options.extra,
  });
  return world;
}

const ev = (runId: string, seq: number, step: string, status: string, at: number, phase: string, extra: Partial<StepEvent> = {}): StepEvent => ({
  runId, seq, step: step as StepEvent['step'], status: status as StepEvent['status'], message: '', atUnixMs: at, phase: phase as StepEvent['phase'], errorCode: '', journalTail: [], firstHealthyAtUnixMs: 0, mainPid: 0, downtimeMs: 0, skipFileWritten: '', skipped: '', ...extra,
});

const componentOf = (c: string | undefined): string => c || 'kubelet';

/** Applies every finished execution to the components (idempotent: keyed by run id). */
function settle(w: CpWorld, now: number): void {
  for (const e of w.executions) {
    if (e.fail || e.rolledBack || e.startedAt + e.durationMs > now) continue;
    const n = w.nodes.find((x) => x.name === e.node)!;
    const c = n.components[e.component]!;
    if (c.version === e.to) continue;
    c.version = e.to;
    // A held component is swapped and stays held (not started): the contract of issue 9.
    if (!c.held) c.running = true;
    if (e.component === 'kubelet') n.kubelet = e.to;
    if (e.component === 'kube-apiserver') {
      w.apiserverVersion = e.to;
      w.apiserverDownUntil = e.startedAt + e.durationMs + w.apiserverDownMs;
    }
  }
}

export function read(world: CpWorldFile, now: number): CpWorld {
  const w = world.read();
  settle(w, now);
  return w;
}

export function cpAgent(world: CpWorldFile, node: string, now: () => number, sleep: (ms: number) => Promise<void>): AgentPort & { calls: string[] } {
  const calls: string[] = [];
  const log = (line: string): void => {
    world.update((w) => { settle(w, now()); w.log.push(line); });
  };
  const need = (w: CpWorld, component: string): CpComponent => {
    const c = w.nodes.find((x) => x.name === node)?.components[component];
    if (!c) throw new KipError('COMPONENT_NOT_FOUND', `${node} does not run ${component}`);
    return c;
  };
  return {
    calls,
    getNode: async () => {
      const w = read(world, now());
      const n = w.nodes.find((x) => x.name === node)!;
      return {
        nodeName: node, kubeletVersion: n.kubelet, staged: [], kubeletPatched: !(w.unpatched ?? []).includes(node), etcdSnapshots: node === 'cp1' ? w.snapshots.map((s) => ({ id: s.id })) : [],
        components: Object.entries(n.components).map(([name, c]) => ({ name, version: c.version, held: c.held, healthUrl: name === 'kube-apiserver' ? 'https://127.0.0.1:6443/readyz' : '' })),
      } as unknown as Awaited<ReturnType<AgentPort['getNode']>>;
    },
    getRun: async () => { throw new Error('not used'); },
    hashReport: async (targetVersion) => {
      const stale = read(world, now()).stale?.[node];
      if (!stale) throw new KipError('NO_KUBECONFIG', `${node}: the agent has no kubeconfig`);
      calls.push(`hashReport ${targetVersion}`);
      return { kubeletVersion: '', selfCheckOk: true, selfCheckCode: 'OK', selfCheckMessage: '', predictedRestarts: stale, consistent: true, compared: stale.length, problems: [] };
    },
    preflight: async () => { throw new Error('not used'); },
    stageBinary: async () => { throw new Error('not used'); },
    rollback: async (runId) => {
      calls.push(`rollback ${runId}`);
      const w = read(world, now());
      const e = w.executions.find((x) => x.runId === runId);
      if (!e) throw new KipError('RUN_NOT_FOUND', `no run ${runId} on ${node}`);
      // The old binary back, started unless held (the agent's Rollback); idempotent per run.
      const c = w.nodes.find((x) => x.name === node)?.components[e.component];
      if (c && !e.rolledBack && e.from) {
        c.version = e.from;
        c.running = !c.held;
        if (e.component === 'kubelet') w.nodes.find((x) => x.name === node)!.kubelet = e.from;
      }
      e.rolledBack = true;
      w.log.push(`rollback ${node} ${e.component} ${runId}`);
      world.write(w);
      return { runId, phase: 'RUN_ROLLED_BACK', errorCode: '', errorMessage: '', fromVersion: e.from ?? '', toVersion: e.to, component: e.component } as unknown as Awaited<ReturnType<AgentPort['rollback']>>;
    },
    hold: async (component) => {
      calls.push(`hold ${component}`);
      const w = read(world, now());
      const c = need(w, component);
      const changed = !c.held;
      c.held = true;
      c.running = false;
      w.log.push(`hold ${node} ${component}`);
      world.write(w);
      return { component, runtime: 'systemd', phase: 'held', unit: '', manifest: '', heldManifest: '', sinceUnixMs: now(), changed };
    },
    release: async (component) => {
      calls.push(`release ${component}`);
      const w = read(world, now());
      const c = need(w, component);
      const key = `${node}/${component}`;
      const swap = w.executions.filter((e) => e.node === node && e.component === component && !e.fail && !e.rolledBack).at(-1);
      if (w.releaseFails.includes(key) && swap && c.version === swap.to) {
        // The hold is gone and the new one crash-loops, as after the real agent's Release.
        c.held = false;
        c.running = false;
        w.log.push(`release-failed ${node} ${component}`);
        world.write(w);
        throw new KipError('COMPONENT_UNHEALTHY', `${component} ${swap.to} did not run healthy after Release (healthz never answered)`, { runId: swap.runId, component });
      }
      const changed = c.held;
      c.held = false;
      c.running = true;
      w.log.push(`release ${node} ${component} ${c.version}`);
      world.write(w);
      return { component, changed, started: changed };
    },
    etcdSnapshot: async () => {
      calls.push('etcdSnapshot');
      const w = world.read();
      const id = `snap-${w.snapshots.length + 1}`;
      const data = Buffer.from(`etcd data ${id} `.repeat(5000)).toString('base64');
      w.snapshots.push({ id, node, data });
      w.log.push(`etcd-snapshot ${node} ${id}`);
      world.write(w);
      const bytes = Buffer.from(data, 'base64');
      return { id, endpoint: 'https://127.0.0.1:2379', sizeBytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), etcdHash: 1, revision: 42, totalKeys: 7, totalSize: bytes.length, createdAtUnixMs: now(), durationMs: 3 } satisfies EtcdSnapshotInfo;
    },
    async *fetchSnapshot(id) {
      calls.push(`fetch ${id}`);
      const s = world.read().snapshots.find((x) => x.id === id);
      if (!s) throw new KipError('SNAPSHOT_NOT_FOUND', id);
      const bytes = Buffer.from(s.data, 'base64');
      for (let i = 0; i < bytes.length; i += 16_384) yield { data: bytes.subarray(i, i + 16_384), payload: 'data' } as unknown as Awaited<ReturnType<AgentPort['fetchSnapshot']>> extends AsyncIterable<infer T> ? T : never;
    },
    async *watch(from, signal) {
      let seen = from;
      while (!signal.aborted) {
        const w = world.read();
        if (seen > 0 && seen < w.watchOldest) throw new KipError('WATCH_SEQUENCE_EXPIRED', `events after ${seen} are no longer held`, { requested: seen, oldest: w.watchOldest + 1, latest: Math.max(0, ...w.watch.map((e) => e.sequence)) });
        for (const e of w.watch.filter((x) => x.node === node && x.sequence > seen).sort((a, b) => a.sequence - b.sequence)) {
          seen = e.sequence;
          yield e;
        }
        await sleep(5);
      }
    },
    close: () => undefined,
    async *upgradeFollow(req) {
      const runId = req.runId ?? '';
      const component = componentOf(req.component);
      calls.push(`upgrade ${component} ${runId}`);
      let w = read(world, now());
      let ex = w.executions.find((e) => e.runId === runId);
      if (!ex) {
        const running = w.executions.find((e) => e.node === node && e.startedAt + e.durationMs > now());
        if (running) throw new KipError('UPGRADE_ALREADY_RUNNING', `another run ${running.runId} is running on ${node}`);
        const key = `${node}/${component}`;
        const made: CpExecution = { runId, node, component, from: w.nodes.find((x) => x.name === node)?.components[component]?.version ?? '', to: req.targetVersion ?? '', startedAt: now(), durationMs: w.durationMs, fail: w.upgradeFails.includes(key) };
        ex = made;
        w = world.update((cur) => {
          settle(cur, now());
          cur.executions.push(made);
          cur.upgradeFails = cur.upgradeFails.filter((k) => k !== key);
          const c = cur.nodes.find((x) => x.name === node)!.components[component]!;
          cur.log.push(`upgrade ${node} ${component} ${req.targetVersion} ${c.held ? 'held' : 'running'}`);
          if (!c.held) c.running = false;
          if (component === 'kube-apiserver') cur.apiserverDownUntil = made.startedAt + made.durationMs + cur.apiserverDownMs;
        });
      }
      yield ev(runId, 1, 'STOP_KUBELET', 'STEP_STARTED', ex.startedAt, 'RUN_RUNNING');
      // A timer may fire a millisecond before Date.now() reaches its deadline: wait until the
      // world's clock says the execution ended, or the next call on the node finds it still running.
      while (ex.startedAt + ex.durationMs > now()) await sleep(Math.max(1, ex.startedAt + ex.durationMs - now()));
      const end = ex.startedAt + ex.durationMs;
      if (ex.fail) {
        yield ev(runId, 2, 'VERIFY', 'STEP_FAILED', end, 'RUN_ROLLING_BACK', { errorCode: 'VERIFY_TIMEOUT', message: 'healthz never answered' });
        yield ev(runId, 3, 'ROLLED_BACK', 'STEP_DONE', end, 'RUN_ROLLED_BACK');
        return;
      }
      yield ev(runId, 2, 'DONE', 'STEP_DONE', end, 'RUN_SUCCEEDED');
    },
  };
}

const away = (): Error => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' });

export function cpCluster(world: CpWorldFile, now: () => number): ClusterApi & { lock: ReturnType<typeof memoryLock> } {
  const up = (): CpWorld => {
    const w = read(world, now());
    if (now() < w.apiserverDownUntil) {
      world.update((cur) => { cur.log.push('probe-refused'); });
      throw away();
    }
    return w;
  };
  const nodes = (w: CpWorld): V1Node[] => w.nodes.map((n) => ({
    metadata: { name: n.name, labels: (n.name.startsWith('cp') ? { 'node-role.kubernetes.io/master': '' } : {}) as Record<string, string> },
    status: { nodeInfo: { kubeletVersion: n.kubelet } as NonNullable<V1Node['status']>['nodeInfo'], conditions: [{ type: 'Ready', status: 'True' }], addresses: [{ type: 'InternalIP', address: '127.0.0.1' }] },
  }));
  const pods = (w: CpWorld): V1Pod[] => w.pods.map((p) => ({
    metadata: { namespace: p.namespace, name: p.name, uid: p.uid },
    spec: { nodeName: p.node, containers: [{ name: 'main', image: 'busybox' }], tolerations: p.tolerations },
    status: { phase: p.phase, containerStatuses: [{ name: 'main', containerID: `containerd://${p.uid}-${p.restarts}`, restartCount: p.restarts, ready: true, image: 'busybox', imageID: '' }] },
  }));
  return {
    server: 'https://fake-cp',
    version: async () => up().apiserverVersion,
    nodes: async () => nodes(up()),
    pods: async () => pods(up()),
    podTree: async () => parseJson(JSON.stringify({ items: pods(up()) }), 'pods'),
    annotateNode: async () => undefined,
    labelNode: async () => undefined,
    nodeEvent: async () => undefined,
    annotatePod: async (namespace, name) => {
      up();
      world.update((w) => {
        settle(w, now());
        const p = w.pods.find((x) => x.namespace === namespace && x.name === name)!;
        // Which controller-manager runs while the pod is touched (the test checks none with TaintBasedEvictions on).
        const cms = w.nodes.flatMap((n) => (n.components['kube-controller-manager']?.running ? [n.components['kube-controller-manager'].version] : []));
        w.log.push(`touch ${namespace}/${name} running-cm=${cms.join(',') || 'none'}`);
        if (!w.admission) return;
        const has = (key: string): boolean => p.tolerations.some((t) => (t.key === key || !t.key) && (t.effect === 'NoExecute' || !t.effect));
        if (!has('node.kubernetes.io/not-ready')) p.tolerations.push({ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 });
        if (!has('node.kubernetes.io/unreachable')) p.tolerations.push({ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 });
      });
    },
    apiserverStatus: async (_url, path) => {
      const w = up();
      world.update((cur) => { cur.log.push(`probe ${path}`); });
      return { ready: true, version: w.apiserverVersion };
    },
    lock: memoryLock(),
  };
}

/** True when minor(v) >= m. */
export const atLeast = (v: string, m: number): boolean => parseRealVersion(v, 'v').minor >= m;
