/**
 * In-process fake agents and a fake cluster for engine logic tests. The "world" (which agent runs
 * executed, when, and what each Node's kubelet is) lives in a JSON file written atomically, so a
 * coordinator process killed with kill -9 and a new one see the same world; an agent run keeps
 * going when the coordinator dies (it is time-based), as a real agent's would.
 */
import { readFileSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { AgentPort, StepEvent } from '../../coordinator/fleet/port.ts';
import type { ClusterApi } from '../../coordinator/ports.ts';
import { parseJson } from '../../lib/knowledge/hash/index.ts';
import { memoryLock } from './cli-fakes.ts';

export interface Execution {
  readonly runId: string;
  readonly node: string;
  readonly to: string;
  readonly startedAt: number;
  readonly durationMs: number;
  /** The agent rolls back instead of succeeding. */
  readonly fail: boolean;
}

export interface World {
  readonly nodes: { name: string; kubelet: string; zone: string }[];
  readonly executions: Execution[];
  /** ns/pod/container ids that a "kubelet" recreated (the gate must see it). */
  readonly restartedContainers: string[];
  /** Nodes whose next agent run fails (rolls back). */
  readonly failNodes: string[];
  /** Nodes whose upgrade recreates their first container. */
  readonly restartNodes: string[];
  readonly durationMs: number;
}

export class WorldFile {
  constructor(readonly path: string) {}

  read(): World {
    return JSON.parse(readFileSync(this.path, 'utf8')) as World;
  }

  write(w: World): void {
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify(w));
    const fd = openSync(tmp, 'r');
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, this.path);
  }

  update(fn: (w: World) => World): World {
    const w = fn(this.read());
    this.write(w);
    return w;
  }

  /** The kubelet a node runs now: its last succeeded, finished execution's version. */
  kubeletOf(w: World, node: string, now: number): string {
    const done = w.executions.filter((e) => e.node === node && !e.fail && e.startedAt + e.durationMs <= now);
    return done.length > 0 ? done[done.length - 1]!.to : w.nodes.find((n) => n.name === node)!.kubelet;
  }
}

function event(runId: string, seq: number, step: string, status: string, at: number, phase: string, extra: Partial<StepEvent> = {}): StepEvent {
  return { runId, seq, step: step as StepEvent['step'], status: status as StepEvent['status'], message: '', atUnixMs: at, phase: phase as StepEvent['phase'], errorCode: '', journalTail: [], firstHealthyAtUnixMs: 0, mainPid: 0, downtimeMs: 0, skipFileWritten: '', skipped: '', ...extra };
}

export function fakeAgent(world: WorldFile, node: string, now: () => number, sleep: (ms: number) => Promise<void>): AgentPort & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    getNode: async () => ({ nodeName: node, kubeletVersion: world.kubeletOf(world.read(), node, now()) }) as Awaited<ReturnType<AgentPort['getNode']>>,
    getRun: async () => { throw new Error('not used'); },
    preflight: async () => { throw new Error('not used'); },
    stageBinary: async () => { throw new Error('not used'); },
    rollback: async () => { throw new Error('not used'); },
    close: () => undefined,
    async *upgradeFollow(req) {
      calls.push(req.runId ?? '');
      const runId = req.runId ?? '';
      let w = world.read();
      let ex = w.executions.find((e) => e.runId === runId);
      if (!ex) {
        const running = w.executions.find((e) => e.node === node && e.startedAt + e.durationMs > now());
        if (running) throw Object.assign(new Error(`another run ${running.runId} is running on ${node}`), { code: 'UPGRADE_ALREADY_RUNNING' });
        ex = { runId, node, to: req.targetVersion ?? '', startedAt: now(), durationMs: w.durationMs, fail: w.failNodes.includes(node) };
        const made = ex;
        w = world.update((cur) => ({
          ...cur,
          executions: [...cur.executions, made],
          failNodes: cur.failNodes.filter((n) => n !== node),
          restartedContainers: cur.restartNodes.includes(node) ? [...cur.restartedContainers, `${node}-pod`] : cur.restartedContainers,
          restartNodes: cur.restartNodes.filter((n) => n !== node),
        }));
      }
      yield event(runId, 1, 'STOP_KUBELET', 'STEP_STARTED', ex.startedAt, 'RUN_RUNNING');
      const left = ex.startedAt + ex.durationMs - now();
      if (left > 0) await sleep(left);
      const end = ex.startedAt + ex.durationMs;
      if (ex.fail) {
        yield event(runId, 2, 'VERIFY', 'STEP_FAILED', end, 'RUN_ROLLING_BACK', { errorCode: 'VERIFY_TIMEOUT', message: 'healthz never answered' });
        yield event(runId, 3, 'ROLLED_BACK', 'STEP_DONE', end, 'RUN_ROLLED_BACK');
        return;
      }
      yield event(runId, 2, 'VERIFY', 'STEP_DONE', end, 'RUN_RUNNING', { message: `first healthy at ${ex.startedAt + 5}` });
      yield event(runId, 3, 'DONE', 'STEP_DONE', end, 'RUN_SUCCEEDED');
    },
  };
}

/** One pod per node (`default/<node>-pod`, container `main`); its container id changes when the world says it restarted. */
export function fakeWorldCluster(world: WorldFile, now: () => number): ClusterApi & { lock: ReturnType<typeof memoryLock>; marks: string[] } {
  const marks: string[] = [];
  const nodes = (): V1Node[] => {
    const w = world.read();
    return w.nodes.map((n) => ({
      metadata: { name: n.name, labels: (n.zone ? { 'topology.kubernetes.io/zone': n.zone } : {}) as Record<string, string> },
      status: { nodeInfo: { kubeletVersion: world.kubeletOf(w, n.name, now()) } as NonNullable<V1Node['status']>['nodeInfo'], conditions: [{ type: 'Ready', status: 'True' }], addresses: [{ type: 'InternalIP', address: '127.0.0.1' }] },
    }));
  };
  const pods = (): V1Pod[] => {
    const w = world.read();
    return w.nodes.map((n) => ({
      metadata: { namespace: 'default', name: `${n.name}-pod` },
      spec: { nodeName: n.name, containers: [{ name: 'main', image: 'busybox' }] },
      status: { phase: 'Running', containerStatuses: [{ name: 'main', containerID: `containerd://${n.name}-${w.restartedContainers.filter((r) => r === `${n.name}-pod`).length}`, restartCount: 0, ready: true, image: 'busybox', imageID: '' }] },
    }));
  };
  return {
    server: 'https://fake',
    version: async () => 'v1.17.17',
    nodes: async () => nodes(),
    pods: async () => pods(),
    podTree: async () => parseJson(JSON.stringify({ items: pods() }), 'pods'),
    marks,
    nodeEvent: async (node, type, reason) => { marks.push(`event ${node} ${type} ${reason}`); },
    annotateNode: async (node, a) => { marks.push(`annotate ${node} ${a['kip.io/state']}`); },
    labelNode: async () => undefined,
    lock: memoryLock(),
  };
}
