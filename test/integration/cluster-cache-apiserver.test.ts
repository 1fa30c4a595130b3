/**
 * The engine's Node/Pod cache (kubeCluster().openView: list + watch through client-node) against
 * the real lab apiserver over a real etcd: it follows creates, binds, status changes and deletes
 * from the watch; after the apiserver was away while objects changed and etcd compacted past the
 * cache's resourceVersion, the re-watch is answered 410 Gone and the cache lists again and holds
 * what the apiserver holds. Then the same engine run (simulated agents that post the new kubelet
 * version on their Node through the API) with and without the cache, counting the requests at the
 * apiserver: without it the lists grow with the nodes, with it there is one list and one watch of
 * each.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../lib/clock.ts';
import { execaExec } from '../../lib/exec.ts';
import { silentLogger } from '../../lib/logger.ts';
import { KubeClient } from '../../lib/kube/index.ts';
import { kubeCluster } from '../../coordinator/cluster.ts';
import type { AgentPort, StepEvent } from '../../coordinator/fleet/port.ts';
import type { ClusterApi } from '../../coordinator/ports.ts';
import type { OpenedView } from '../../coordinator/rollout/cluster-view.ts';
import { runEngine } from '../../coordinator/rollout/engine.ts';
import type { RunSpec } from '../../coordinator/rollout/spec.ts';
import { openSqliteStore } from '../../coordinator/store/sqlite.ts';
import { startLabControlPlane, type LabControlPlane } from '../../scripts/lab/apiserver/harness.ts';
import { startApiServer, type ApiServerHandle } from '../../scripts/lab/apiserver/server.ts';
import { writeKubeconfig } from '../../scripts/lab/kubeconfig.ts';

let dir: string;
let plane: LabControlPlane;
let other: ApiServerHandle;
let kube: KubeClient;
let viaOther: KubeClient;

async function until(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const nodeObject = (name: string): V1Node => ({ metadata: { name } });
async function readyNode(k: KubeClient, name: string, ready: boolean, kubelet = 'v1.16.15'): Promise<void> {
  await k.patchNodeStatus(name, { status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }], nodeInfo: { kubeletVersion: kubelet } } }, 'merge');
}
async function runningPod(k: KubeClient, name: string, node: string): Promise<void> {
  await k.createPod('default', { metadata: { name }, spec: { nodeName: node, containers: [{ name: 'c', image: 'busybox' }] } });
  await k.patchPodStatus('default', name, { status: { phase: 'Running', containerStatuses: [{ name: 'c', containerID: `containerd://${name}`, restartCount: 0, ready: true, image: 'busybox', imageID: '' }] } }, 'merge');
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kip-cache-api-'));
  plane = await startLabControlPlane({ exec: execaExec, logger: silentLogger(), dir, gitVersion: 'v1.17.17' });
  // A second apiserver on the same etcd: writes while the first one is away.
  other = await startApiServer({
    gitVersion: 'v1.17.17', etcd: plane.etcd.client, logger: silentLogger(),
    tls: { cert: await readFile(plane.pki.server.cert, 'utf8'), key: await readFile(plane.pki.server.key, 'utf8'), clientCa: await readFile(plane.pki.ca.cert, 'utf8') },
  });
  const admin = plane.pki.clients.admin!;
  const otherConfig = join(dir, 'other.kubeconfig');
  await writeKubeconfig(otherConfig, { server: other.url, caFile: plane.pki.ca.cert, clientCertFile: admin.cert, clientKeyFile: admin.key, name: 'other' });
  kube = KubeClient.fromFile(plane.kubeconfig);
  viaOther = KubeClient.fromFile(otherConfig);
}, 120_000);

afterAll(async () => {
  await other?.stop();
  await plane?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the Node/Pod cache against the lab apiserver', () => {
  it('follows the watch, and after a 410 Gone lists again and holds what the apiserver holds', async () => {
    for (const n of ['c1', 'c2', 'c3']) {
      await kube.createNode(nodeObject(n));
      await readyNode(kube, n, n !== 'c2');
    }
    await runningPod(kube, 'cp1', 'c1');
    const cluster = await kubeCluster({ kubeconfig: plane.kubeconfig, context: undefined });
    const view: OpenedView = await cluster.openView!();
    try {
      expect((await view.podsOn(['c1'])).get('c1')?.pods.map((p) => p.metadata?.name)).toEqual(['cp1']);
      expect([...await view.notReady()]).toEqual(['c2']);
      // A Node event wakes the node's waiter and updates the NotReady set.
      const woke = view.changed('c2', 30_000);
      await readyNode(kube, 'c2', true);
      await woke;
      await until('c2 Ready in the cache', async () => !(await view.notReady()).has('c2'));
      expect(view.stats()).toMatchObject({ nodes: { lists: 1, gone: 0 }, pods: { lists: 1, gone: 0 } });

      // The apiserver goes away; meanwhile objects change and etcd compacts past the cache's resourceVersion.
      await plane.api.stop();
      await until('the cache to notice the watches dropped', () => !view.live());
      await viaOther.deletePod('default', 'cp1');
      await runningPod(viaOther, 'cp3', 'c3');
      await readyNode(viaOther, 'c1', false);
      const rev = await plane.etcd.client.put('/kip-test/compact', String(Date.now()));
      await plane.etcd.client.compact(rev);
      await plane.restart();
      await until('the cache to list again after 410', () => view.live() && view.stats().pods.gone >= 1 && view.stats().nodes.gone >= 1, 60_000);
      const truth = (await kube.listPods()).items.filter((p) => p.spec?.nodeName).map((p) => `${p.spec?.nodeName}/${p.metadata?.name}`).sort();
      const cached = [...(await view.podsOn(['c1', 'c2', 'c3'])).values()].flatMap((l) => l.pods.map((p) => `${p.spec?.nodeName}/${p.metadata?.name}`)).sort();
      expect(cached).toEqual(truth);
      expect(cached).toContain('c3/cp3');
      expect(cached).not.toContain('c1/cp1');
      expect([...await view.notReady()]).toEqual(['c1']);
      expect(view.stats().pods.lists).toBe(2);
      expect(view.stats().nodes.lists).toBe(2);
    } finally {
      await view.stop();
    }
  }, 180_000);

  it('an engine run asks the apiserver for one list and one watch of Nodes and Pods with the cache, lists growing with the nodes without it', async () => {
    const nodes = Array.from({ length: 20 }, (_, i) => `e${String(i).padStart(2, '0')}`);
    const figures: Record<string, Record<string, number>> = {};
    for (const mode of ['polling', 'cache'] as const) {
      const names = nodes.map((n) => `${n}${mode[0]}`);
      for (const n of names) {
        await kube.createNode(nodeObject(n));
        await readyNode(kube, n, true);
        for (let i = 0; i < 2; i++) await runningPod(kube, `${n}-p${i}`, n);
      }
      // A simulated agent: its kubelet posts the new version on its Node halfway through a 200 ms run.
      const stub = async (): Promise<never> => { throw new Error('not used'); };
      const agents = new Map<string, AgentPort>(names.map((n) => [n, {
        getNode: stub, getRun: stub, preflight: stub, stageBinary: stub, rollback: stub, close: () => undefined, hold: stub, release: stub, etcdSnapshot: stub,
        fetchSnapshot: () => { throw new Error('not used'); }, watch: () => { throw new Error('not used'); },
        async *upgradeFollow(req): AsyncGenerator<StepEvent> {
          await systemClock.sleep(100);
          await readyNode(kube, n, true, req.targetVersion ?? '');
          await systemClock.sleep(100);
          yield { runId: req.runId ?? '', seq: 1, step: 'DONE', status: 'STEP_DONE', message: '', atUnixMs: Date.now(), phase: 'RUN_SUCCEEDED', errorCode: '', journalTail: [], firstHealthyAtUnixMs: 0, mainPid: 0, downtimeMs: 0, skipFileWritten: '', skipped: '' };
        },
      }]));
      const real = await kubeCluster({ kubeconfig: plane.kubeconfig, context: undefined });
      const cluster: ClusterApi = mode === 'cache' ? real : { ...real, openView: undefined };
      const spec: RunSpec = {
        target: 'v1.17.17', plan: 'every-step', steps: [{ index: 0, to: 'v1.17.17', nodes: names.map((n) => ({ name: n, from: 'v1.16.15', zone: '' })) }],
        maxConcurrency: 5, maxUnavailable: 5, canary: { count: 0 }, nodeTimeoutMs: 120_000, readyTimeoutMs: 60_000, verifyTimeoutMs: 0, allowUnpatched: false, allowDroppedFlags: [], releasesDir: undefined,
      };
      const store = openSqliteStore(join(dir, `${mode}.db`));
      const runId = `run-${mode}`;
      store.createRun({ id: runId, cluster: real.server, target: spec.target, phase: 'running', reason: '', spec: JSON.stringify(spec), createdAt: Date.now() });
      await cluster.lock.acquire('test', runId, 60_000, Date.now());
      const before = plane.api.requests();
      const view = cluster.openView ? await cluster.openView() : undefined;
      const outcome = await runEngine(runId, spec, { store, cluster, agents, clock: systemClock, logger: silentLogger(), pollMs: 100, ...(view ? { view } : {}) });
      await view?.stop();
      const after = plane.api.requests();
      store.close();
      expect(outcome).toEqual({ phase: 'succeeded' });
      figures[mode] = Object.fromEntries(Object.keys(after).map((k) => [k, (after[k] ?? 0) - (before[k] ?? 0)]).filter(([, v]) => (v as number) > 0));
    }
    const perNode = (m: string): string => Object.entries(figures[m] ?? {}).sort().map(([k, v]) => `${k} ${(v / nodes.length).toFixed(2)}`).join(', ');
    process.stdout.write(`apiserver requests per node, ${nodes.length} nodes, --max-concurrency 5, poll 100 ms:\n  without the cache: ${perNode('polling')}\n  with the cache:    ${perNode('cache')}\n`);
    const cache = figures.cache ?? {};
    const polling = figures.polling ?? {};
    expect({ nodes: cache['list nodes'], pods: cache['list pods'], watchNodes: cache['watch nodes'], watchPods: cache['watch pods'] }).toEqual({ nodes: 1, pods: 1, watchNodes: 1, watchPods: 1 });
    // Without the cache: a Node list every round and a Pod list for every look, so at least one of each per node.
    expect(polling['list nodes'] ?? 0).toBeGreaterThanOrEqual(nodes.length);
    expect(polling['list pods'] ?? 0).toBeGreaterThanOrEqual(nodes.length);
  }, 240_000);
});
