/** Fakes for CLI tests: an io that records, a cluster in memory, an in-memory lock. */
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { FakeClock } from '../../lib/clock.ts';
import { parseJson } from '../../lib/knowledge/hash/index.ts';
import { silentLogger } from '../../lib/logger.ts';
import type { CliIo } from '../../coordinator/io.ts';
import { expired, LockHeldError, type ClusterLock, type LockHolder } from '../../coordinator/lock/lock.ts';
import type { ClusterApi, CliPorts } from '../../coordinator/ports.ts';
import type { AgentEndpoint, AgentPort } from '../../coordinator/fleet/port.ts';
import { openSqliteStore } from '../../coordinator/store/sqlite.ts';
import { join } from 'node:path';

export type RecordingIo = CliIo & { out: string; err: string };

export function recordingIo(env: Record<string, string> = {}, files: Record<string, string> = {}, tty = false): RecordingIo {
  const io: RecordingIo = {
    out: '',
    err: '',
    stdout: (s) => { io.out += s; },
    stderr: (s) => { io.err += s; },
    readInput: async (p) => {
      const c = files[p];
      if (c === undefined) throw new Error(`no ${p}`);
      return c;
    },
    env,
    stdoutIsTTY: tty,
  };
  return io;
}

export function memoryLock(where = 'memory'): ClusterLock & { held: LockHolder | undefined } {
  const lock = {
    held: undefined as LockHolder | undefined,
    where: async () => where,
    read: async () => lock.held,
    acquire: async (holder: string, runId: string, ttlMs: number, now: number) => {
      if (lock.held && lock.held.runId !== runId && !expired(lock.held, now)) throw new LockHeldError(lock.held, where, now);
      lock.held = { holder, runId, acquiredAt: lock.held?.runId === runId ? lock.held.acquiredAt : now, renewedAt: now, ttlMs };
      return lock.held;
    },
    renew: async (runId: string, now: number) => {
      if (!lock.held || lock.held.runId !== runId) throw new Error('lost');
      lock.held = { ...lock.held, renewedAt: now };
      return lock.held;
    },
    release: async (runId: string) => {
      if (lock.held?.runId === runId) lock.held = undefined;
    },
    forceRelease: async () => {
      const was = lock.held;
      lock.held = undefined;
      return was;
    },
  };
  return lock;
}

export function node(name: string, kubelet: string, extra: { ip?: string; labels?: Record<string, string>; ready?: boolean } = {}): V1Node {
  return {
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...(extra.labels ?? {}) }, annotations: {} },
    status: {
      nodeInfo: { kubeletVersion: kubelet, kubeProxyVersion: kubelet } as NonNullable<V1Node['status']>['nodeInfo'],
      addresses: [{ type: 'InternalIP', address: extra.ip ?? '127.0.0.1' }],
      conditions: [{ type: 'Ready', status: extra.ready === false ? 'False' : 'True' }],
    },
  };
}

export interface FakeCluster extends ClusterApi {
  apiserver: string;
  nodeList: V1Node[];
  podList: V1Pod[];
  readonly lock: ReturnType<typeof memoryLock>;
  patches: { node: string; annotations?: Record<string, string | null>; labels?: Record<string, string> }[];
}

export function fakeCluster(apiserver: string, nodes: V1Node[], pods: V1Pod[] = []): FakeCluster {
  const c: FakeCluster = {
    apiserver,
    nodeList: nodes,
    podList: pods,
    lock: memoryLock(),
    patches: [],
    server: 'https://fake',
    version: async () => c.apiserver,
    nodes: async () => structuredClone(c.nodeList),
    pods: async () => structuredClone(c.podList),
    podTree: async () => parseJson(JSON.stringify({ kind: 'PodList', items: c.podList }), 'pods'),
    nodeEvent: async () => undefined,
    annotatePod: async (namespace, name, annotations) => {
      const p = c.podList.find((x) => x.metadata?.namespace === namespace && x.metadata?.name === name);
      if (p) p.metadata!.annotations = { ...(p.metadata!.annotations ?? {}), ...annotations };
    },
    apiserverStatus: async () => ({ ready: true, version: c.apiserver }),
    annotateNode: async (name, annotations) => {
      c.patches.push({ node: name, annotations: { ...annotations } });
      const n = c.nodeList.find((x) => x.metadata?.name === name);
      if (n) {
        const a = { ...(n.metadata!.annotations ?? {}) };
        for (const [k, v] of Object.entries(annotations)) {
          if (v === null) delete a[k];
          else a[k] = v;
        }
        n.metadata!.annotations = a;
      }
    },
    labelNode: async (name, labels) => {
      c.patches.push({ node: name, labels: { ...labels } });
      const n = c.nodeList.find((x) => x.metadata?.name === name);
      if (n) n.metadata!.labels = { ...(n.metadata!.labels ?? {}), ...labels };
    },
  };
  return c;
}

export function fakePorts(cluster: ClusterApi, options: { stateDir?: string; agents?: (e: AgentEndpoint) => AgentPort; clock?: FakeClock } = {}): CliPorts & { clusterCalls: number } {
  const ports = {
    clusterCalls: 0,
    cluster: async () => {
      ports.clusterCalls++;
      return cluster;
    },
    agentTls: async () => ({ ca: Buffer.from(''), cert: Buffer.from(''), key: Buffer.from('') }),
    agent: (e: AgentEndpoint) => {
      if (!options.agents) throw new Error('no agents in this test');
      return options.agents(e);
    },
    openStore: (dir: string) => openSqliteStore(join(options.stateDir ?? dir, 'runs.db')),
    clock: options.clock ?? new FakeClock(1_700_000_000_000),
    logger: silentLogger(),
    identity: 'test-host/1',
  };
  return ports;
}
