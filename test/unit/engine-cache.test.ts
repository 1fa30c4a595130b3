/**
 * The engine over the Node/Pod cache (coordinator/cluster-cache.ts) and the cache's own index, over
 * an in-memory list + watch source: one list of each kind whatever the node count, waits that end
 * on the node's own event, and the last look's quiet time catching a container that restarts just
 * after the new kubelet's Node is Ready.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock, systemClock } from '../../lib/clock.ts';
import { silentLogger } from '../../lib/logger.ts';
import { openClusterCache } from '../../coordinator/cluster-cache.ts';
import type { ClusterApi } from '../../coordinator/ports.ts';
import type { AgentPort } from '../../coordinator/fleet/port.ts';
import type { ClusterView } from '../../coordinator/rollout/cluster-view.ts';
import { runEngine } from '../../coordinator/rollout/engine.ts';
import type { RunSpec } from '../../coordinator/rollout/spec.ts';
import { openSqliteStore } from '../../coordinator/store/sqlite.ts';
import { parseJson } from '../../lib/knowledge/hash/index.ts';
import { MemoryResource, simulatedAgent, world } from '../../bench/coordinator-world.ts';
import { memoryLock } from './cli-fakes.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A ClusterApi whose lists fail: the engine must read Nodes and Pods only through the cache. */
function noListCluster(): ClusterApi {
  const refuse = async (): Promise<never> => { throw new Error('the engine listed from the apiserver'); };
  return {
    server: 'https://fake', version: async () => 'v1.17.17', nodes: refuse, pods: refuse, podTree: async () => parseJson('{"items":[]}', 'pods'),
    annotateNode: async () => undefined, labelNode: async () => undefined, annotatePod: async () => undefined, nodeEvent: async () => undefined,
    apiserverStatus: async () => ({ ready: true, version: 'v1.17.17' }), lock: memoryLock(),
  };
}

function specOf(names: readonly string[], maxConcurrency: number): RunSpec {
  return {
    target: 'v1.17.17', plan: 'every-step', steps: [{ index: 0, to: 'v1.17.17', nodes: names.map((n) => ({ name: n, from: 'v1.16.15', zone: '' })) }],
    maxConcurrency, maxUnavailable: maxConcurrency, canary: { count: 0 }, nodeTimeoutMs: 120_000, readyTimeoutMs: 60_000, verifyTimeoutMs: 0,
    allowUnpatched: false, allowDroppedFlags: [], releasesDir: undefined,
  };
}

async function run(names: readonly string[], agents: Map<string, AgentPort>, w: ReturnType<typeof world>, options: { maxConcurrency: number; pollMs: number }, wrap: (v: ClusterView) => ClusterView = (v) => v) {
  const dir = mkdtempSync(join(tmpdir(), 'kip-engine-cache-'));
  dirs.push(dir);
  const store = openSqliteStore(join(dir, 'runs.db'));
  const spec = specOf(names, options.maxConcurrency);
  store.createRun({ id: 'r', cluster: 'https://fake', target: spec.target, phase: 'running', reason: '', spec: JSON.stringify(spec), createdAt: Date.now() });
  const cluster = noListCluster();
  await cluster.lock.acquire('test', 'r', 60_000, Date.now());
  const view = await openClusterCache({ nodes: w.nodes, pods: w.pods }, { clock: systemClock, logger: silentLogger() });
  try {
    const outcome = await runEngine('r', spec, { store, cluster, agents, clock: systemClock, logger: silentLogger(), pollMs: options.pollMs, view: wrap(view) });
    return { outcome, nodes: store.nodes('r') };
  } finally {
    await view.stop();
    store.close();
  }
}

describe('the engine over the Node/Pod cache', () => {
  it('upgrades every node with one list and one watch of Nodes and of Pods, and no other list', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `n${i}`);
    const w = world(names, 3);
    const timing = { started: [], ended: new Map<string, number>(), lateMs: 0 };
    const agents = new Map<string, AgentPort>(names.map((n) => [n, simulatedAgent(n, 60, 0.5, w.nodes, timing)]));
    const { outcome, nodes } = await run(names, agents, w, { maxConcurrency: 4, pollMs: 20 });
    expect(outcome).toEqual({ phase: 'succeeded' });
    expect(nodes.map((n) => n.phase)).toEqual(names.map(() => 'succeeded'));
    expect({ nodeLists: w.nodes.lists, podLists: w.pods.lists, nodeWatches: w.nodes.watches, podWatches: w.pods.watches }).toEqual({ nodeLists: 1, podLists: 1, nodeWatches: 1, podWatches: 1 });
  });

  it('a Node Ready and quiet for longer than the quiet time passes its last look without waiting', async () => {
    const names = ['n0', 'n1'];
    const w = world(names, 2);
    const timing = { started: [], ended: new Map<string, number>(), lateMs: 0 };
    // The new kubelet reports at a tenth of a 1 s run: 0.9 s quiet at its end, the quiet time 0.5 s.
    const agents = new Map<string, AgentPort>(names.map((n) => [n, simulatedAgent(n, 1_000, 0.1, w.nodes, timing)]));
    const waits: string[] = [];
    const counted = (v: ClusterView): ClusterView => ({ ...v, changed: (name, ms, signal) => { waits.push(name); return v.changed(name, ms, signal); } });
    const { outcome } = await run(names, agents, w, { maxConcurrency: 2, pollMs: 500 }, counted);
    expect(outcome).toEqual({ phase: 'succeeded' });
    expect(waits).toEqual([]);
  });

  it('a container that restarts just after the new kubelet is Ready is caught: the quiet time runs from the last change', async () => {
    const names = ['n0'];
    const w = world(names, 2);
    const timing = { started: [], ended: new Map<string, number>(), lateMs: 0 };
    // The Node reports the new kubelet only as the run ends; 50 ms later its first sync recreates a container.
    const agents = new Map<string, AgentPort>([['n0', simulatedAgent('n0', 100, 1, w.nodes, timing)]]);
    const restartAfterReady = await w.nodes.watch(String(Number.MAX_SAFE_INTEGER), (_type, o) => {
      if ((o as V1Node).status?.nodeInfo?.kubeletVersion !== 'v1.17.17') return;
      setTimeout(() => {
        const p = w.pods.get('default', 'n0-p0')!;
        w.pods.put({ ...p, status: { ...p.status, containerStatuses: [{ ...p.status!.containerStatuses![0]!, containerID: 'containerd://recreated' }] } } as V1Pod);
      }, 50);
    });
    try {
      const { outcome, nodes } = await run(names, agents, w, { maxConcurrency: 1, pollMs: 2_000 });
      expect(outcome.phase).toBe('paused');
      expect(nodes[0]).toMatchObject({ phase: 'failed' });
      expect(nodes[0]?.error).toContain('default/n0-p0/c restarted');
    } finally {
      restartAfterReady.stop();
    }
  });
});

describe('the Node/Pod cache', () => {
  it('indexes pods by spec.nodeName as they are bound, moved and deleted; keeps the NotReady set; wakes only the node concerned', async () => {
    let rev = 0;
    const revision = { next: () => ++rev };
    const nodes = new MemoryResource<V1Node>(revision);
    const pods = new MemoryResource<V1Pod>(revision);
    const ready = (name: string, status: 'True' | 'False'): V1Node => ({ metadata: { name }, status: { conditions: [{ type: 'Ready', status }] } });
    nodes.put(ready('a', 'True'));
    nodes.put(ready('b', 'False'));
    pods.put({ metadata: { namespace: 'x', name: 'p' }, spec: { containers: [] } });
    const clock = new FakeClock(1_000);
    const view = await openClusterCache({ nodes, pods }, { clock, logger: silentLogger() });
    try {
      expect([...await view.notReady()]).toEqual(['b']);
      expect((await view.podsOn(['a'])).get('a')?.pods).toEqual([]);
      let notReadyChanges = 0;
      view.onNotReadyChange(() => notReadyChanges++);
      // Bound to a: a's waiter wakes (the FakeClock never moves, so only the event can end it), b's does not.
      let bWoke = false;
      const bWait = view.changed('b', 60_000).then(() => { bWoke = true; });
      const aWait = view.changed('a', 60_000);
      clock.advance(5);
      pods.put({ metadata: { namespace: 'x', name: 'p' }, spec: { nodeName: 'a', containers: [] } });
      await aWait;
      expect((await view.podsOn(['a'])).get('a')).toMatchObject({ since: 1_005 });
      expect((await view.podsOn(['a'])).get('a')?.pods.map((p) => p.metadata?.name)).toEqual(['p']);
      expect(bWoke).toBe(false);
      // b becomes Ready: the set changes, listeners hear it, b's waiter wakes.
      nodes.put(ready('b', 'True'));
      await bWait;
      expect([...await view.notReady()]).toEqual([]);
      expect(notReadyChanges).toBe(1);
      expect((await view.node('b')).since).toBe(1_005);
      // Moved to b, then deleted.
      pods.put({ metadata: { namespace: 'x', name: 'p' }, spec: { nodeName: 'b', containers: [] } });
      expect((await view.podsOn(['a', 'b'])).get('a')?.pods).toEqual([]);
      expect((await view.podsOn(['b'])).get('b')?.pods.length).toBe(1);
      pods.remove('x', 'p');
      expect((await view.podsOn(['b'])).get('b')?.pods).toEqual([]);
      expect(view.stats()).toMatchObject({ nodes: { lists: 1, watches: 1 }, pods: { lists: 1, watches: 1 } });
    } finally {
      await view.stop();
    }
    expect(view.live()).toBe(false);
    await expect(view.notReady()).rejects.toMatchObject({ code: 'CLUSTER_CACHE_NOT_WATCHING' });
  });
});
