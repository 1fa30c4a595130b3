/**
 * The scheduling bench's in-process world: an apiserver in memory that serves list + watch of Nodes
 * and Pods with resourceVersions (the ListWatch the engine's real cache, coordinator/cluster-cache.ts,
 * is built on), simulated agents whose run is a timed no-op, and a counting store.
 */
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { systemClock } from '../lib/clock.ts';
import type { ListWatch, WatchStream } from '../lib/kube/informer.ts';
import type { AgentPort, StepEvent } from '../coordinator/fleet/port.ts';
import type { RunStore } from '../coordinator/store/store.ts';

interface Obj { metadata?: { name?: string; namespace?: string; resourceVersion?: string } }

/** One resource's objects and its event history; watch(rv) replays what came after rv, then follows. */
export class MemoryResource<T extends Obj> implements ListWatch<T> {
  readonly #objects = new Map<string, T>();
  readonly #history: { rv: number; type: string; object: T }[] = [];
  readonly #watchers = new Set<(type: string, object: T) => void>();
  #rv = 0;
  lists = 0;
  watches = 0;

  constructor(private readonly revision: { next(): number }) {}

  #key(o: T): string {
    return `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
  }

  put(o: T): void {
    const rv = this.revision.next();
    this.#rv = rv;
    const stored = { ...o, metadata: { ...o.metadata, resourceVersion: String(rv) } } as T;
    const type = this.#objects.has(this.#key(o)) ? 'MODIFIED' : 'ADDED';
    this.#objects.set(this.#key(o), stored);
    this.#history.push({ rv, type, object: stored });
    for (const w of this.#watchers) w(type, stored);
  }

  remove(namespace: string, name: string): void {
    const cur = this.#objects.get(`${namespace}/${name}`);
    if (!cur) return;
    const rv = this.revision.next();
    this.#rv = rv;
    this.#objects.delete(`${namespace}/${name}`);
    const gone = { ...cur, metadata: { ...cur.metadata, resourceVersion: String(rv) } } as T;
    this.#history.push({ rv, type: 'DELETED', object: gone });
    for (const w of this.#watchers) w('DELETED', gone);
  }

  get(namespace: string, name: string): T | undefined {
    return this.#objects.get(`${namespace}/${name}`);
  }

  async list(): Promise<{ items: T[]; resourceVersion: string }> {
    this.lists++;
    return { items: [...this.#objects.values()], resourceVersion: String(this.#rv) };
  }

  async watch(resourceVersion: string, onEvent: (type: string, object: unknown) => void): Promise<WatchStream> {
    this.watches++;
    const from = Number(resourceVersion);
    for (const h of this.#history) if (h.rv > from) onEvent(h.type, h.object);
    let end: (e: Error | undefined) => void = () => undefined;
    const ended = new Promise<Error | undefined>((r) => {
      end = r;
    });
    const w = (type: string, object: T): void => onEvent(type, object);
    this.#watchers.add(w);
    return { stop: () => { this.#watchers.delete(w); end(undefined); }, ended };
  }

  /** Ends every open watch cleanly. */
  close(): void {
    this.#watchers.clear();
  }
}

export function world(names: readonly string[], podsPerNode: number): { nodes: MemoryResource<V1Node>; pods: MemoryResource<V1Pod> } {
  let rev = 0;
  const revision = { next: () => ++rev };
  const nodes = new MemoryResource<V1Node>(revision);
  const pods = new MemoryResource<V1Pod>(revision);
  for (const n of names) {
    nodes.put({ metadata: { name: n }, status: { nodeInfo: { kubeletVersion: 'v1.16.15' } as NonNullable<V1Node['status']>['nodeInfo'], conditions: [{ type: 'Ready', status: 'True' }] } });
    for (let i = 0; i < podsPerNode; i++) {
      pods.put({
        metadata: { namespace: 'default', name: `${n}-p${i}` },
        spec: { nodeName: n, containers: [{ name: 'c', image: 'busybox' }] },
        status: { phase: 'Running', containerStatuses: [{ name: 'c', containerID: `containerd://${n}-${i}`, restartCount: 0, ready: true, image: 'busybox', imageID: '' }] },
      });
    }
  }
  return { nodes, pods };
}

/**
 * A simulated agent: its run takes `ms`; the new kubelet reports itself on the Node (kubeletVersion)
 * `reportAt` into the run (a fraction: 1 = only as the run ends).
 */
export interface AgentTiming {
  /** performance.now() when each agent run started (in start order) and ended. */
  readonly started: number[];
  readonly ended: Map<string, number>;
  lateMs: number;
}

export function simulatedAgent(node: string, ms: number, reportAt: number, nodes: MemoryResource<V1Node>, timing: AgentTiming): AgentPort {
  const stub = async (): Promise<never> => { throw new Error('unused by the engine'); };
  const report = (version: string): void => {
    const cur = nodes.get('', node)!;
    nodes.put({ ...cur, status: { ...cur.status, nodeInfo: { ...cur.status!.nodeInfo!, kubeletVersion: version } } });
  };
  return {
    getNode: stub, getRun: stub, preflight: stub, stageBinary: stub, rollback: stub, close: () => undefined,
    hold: stub, release: stub, etcdSnapshot: stub, fetchSnapshot: () => { throw new Error('unused by the engine'); }, watch: () => { throw new Error('unused by the engine'); },
    async *upgradeFollow(req): AsyncGenerator<StepEvent> {
      const at = performance.now();
      timing.started.push(at);
      const first = reportAt < 1 ? ms * reportAt : ms;
      await systemClock.sleep(first);
      report(req.targetVersion ?? '');
      // To the run's end from its start, not `ms - first` from now: the run takes `ms` and one
      // timer's lateness, as the bare semaphore's node does, not two timers' (the first one's
      // lateness, up to a ms of timer granularity and whatever the loop ran, counted twice).
      const left = ms - (performance.now() - at);
      if (first < ms && left > 0) await systemClock.sleep(left);
      timing.ended.set(node, performance.now());
      timing.lateMs += performance.now() - at - ms;
      yield { runId: req.runId ?? '', seq: 1, step: 'DONE', status: 'STEP_DONE', message: '', atUnixMs: Date.now(), phase: 'RUN_SUCCEEDED', errorCode: '', journalTail: [], firstHealthyAtUnixMs: 0, mainPid: 0, downtimeMs: 0, skipFileWritten: '', skipped: '' };
    },
  };
}

/** Counts rows written and durable commits at the store port (a write outside batch() is its own commit). */
export function counting(store: RunStore): { store: RunStore; rows: () => number; commits: () => number; storeMs: () => number; maxMs: () => number } {
  let storeMs = 0;
  let maxMs = 0;
  const timed = <R>(fn: () => R): R => {
    const t0 = performance.now();
    try {
      return fn();
    } finally {
      const d = performance.now() - t0;
      storeMs += d;
      maxMs = Math.max(maxMs, d);
    }
  };
  let rows = 0;
  let commits = 0;
  let depth = 0;
  const w = <A extends unknown[], R>(fn: (...a: A) => R) => (...a: A): R => {
    rows++;
    if (depth > 0) return fn(...a);
    commits++;
    return timed(() => fn(...a));
  };
  return {
    storeMs: () => storeMs,
    maxMs: () => maxMs,
    rows: () => rows,
    commits: () => commits,
    store: {
      ...store,
      createRun: w(store.createRun), setRunPhase: w(store.setRunPhase), putNode: w(store.putNode), beginAction: w(store.beginAction),
      finishAction: w(store.finishAction), addEvent: w(store.addEvent), recordConnections: w(store.recordConnections),
      batch: (fn) => {
        if (depth > 0) return store.batch(fn);
        commits++;
        depth++;
        try {
          return timed(() => store.batch(fn));
        } finally {
          depth--;
        }
      },
    },
  };
}

/**
 * What the engine adds per slot hand-off: the i-th agent run to end frees a slot and the
 * (slots + i)-th agent run to start takes it (list scheduling pairs them the same way), so their
 * difference is the time from a node's agent run ending (its last look, the journal commit, the
 * next node's start) to the next agent run starting. Percentiles in ms.
 */
export function handoffs(timing: AgentTiming, slots: number): { p50: number; p90: number; mean: number } | undefined {
  const st = [...timing.started].sort((a, b) => a - b);
  const en = [...timing.ended.values()].sort((a, b) => a - b);
  const gaps: number[] = [];
  for (let i = 0; i + slots < st.length && i < en.length; i++) gaps.push(st[i + slots]! - en[i]!);
  if (gaps.length === 0) return undefined;
  gaps.sort((a, b) => a - b);
  return { p50: gaps[gaps.length >> 1]!, p90: gaps[Math.floor(gaps.length * 0.9)]!, mean: gaps.reduce((a, b) => a + b, 0) / gaps.length };
}

/** List scheduling with zero overhead: each node, in order, on the slot that frees first. */
export function listSchedule(times: readonly number[], slots: number): number {
  const free = Array.from({ length: slots }, () => 0);
  for (const t of times) {
    let i = 0;
    for (let j = 1; j < slots; j++) if (free[j]! < free[i]!) i = j;
    free[i]! += t;
  }
  return Math.max(...free);
}
