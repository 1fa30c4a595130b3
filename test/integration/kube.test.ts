/**
 * kip's Kubernetes adapter (lib/kube, @kubernetes/client-node) against the lab apiserver:
 * a real etcd, real TLS with client certificates on 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { execaExec } from '../../lib/exec.ts';
import { silentLogger } from '../../lib/logger.ts';
import { KubeClient, KubeApiError, type PodWatchEvent } from '../../lib/kube/index.ts';
import { startLabControlPlane, type LabControlPlane } from '../../scripts/lab/apiserver/harness.ts';

let dir: string;
let plane: LabControlPlane;
let kube: KubeClient;

async function until<T>(what: string, fn: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function pod(name: string, labels: Record<string, string> = {}, extra: Partial<V1Pod['spec']> = {}): V1Pod {
  return { metadata: { name, labels }, spec: { containers: [{ name: 'main', image: 'kip.local/busybox:1.35', command: ['sleep', '3600'] }], ...extra } };
}

async function rejects(p: Promise<unknown>): Promise<KubeApiError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof KubeApiError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

const tolerationKeys = (p: V1Pod): string[] => (p.spec?.tolerations ?? []).map((t) => `${t.key ?? ''}:${t.effect ?? ''}:${t.tolerationSeconds ?? '-'}`).sort();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kip-kube-'));
  // Starts as a v1.10 apiserver WITHOUT DefaultTolerationSeconds: pods made now are "old" pods.
  plane = await startLabControlPlane({ exec: execaExec, logger: silentLogger(), dir, gitVersion: 'v1.10.13', defaultTolerationSeconds: false });
  kube = KubeClient.fromFile(plane.kubeconfig);
}, 90_000);

afterAll(async () => {
  try {
    await plane?.stop();
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
});

describe('lib/kube against the lab apiserver', () => {
  it('reads the server version', async () => {
    expect(await kube.getVersion()).toEqual({ gitVersion: 'v1.10.13', major: 1, minor: 10 });
  });

  it('creates, gets, lists with selectors, and deletes nodes', async () => {
    await kube.createNode({ metadata: { name: 'node-a', labels: { pool: 'blue', 'kubernetes.io/hostname': 'node-a' } } });
    await kube.createNode({ metadata: { name: 'node-b', labels: { pool: 'green' } }, spec: { unschedulable: true } });
    const got = await kube.getNode('node-a');
    expect(got.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(got.metadata?.creationTimestamp).toBeInstanceOf(Date);
    expect((await kube.listNodes()).map((n) => n.metadata?.name).sort()).toEqual(['node-a', 'node-b']);
    expect((await kube.listNodes({ labelSelector: 'pool=blue' })).map((n) => n.metadata?.name)).toEqual(['node-a']);
    expect((await kube.listNodes({ labelSelector: 'pool in (blue,green),pool!=blue' })).map((n) => n.metadata?.name)).toEqual(['node-b']);
    expect((await kube.listNodes({ fieldSelector: 'spec.unschedulable=false' })).map((n) => n.metadata?.name)).toEqual(['node-a']);
    const dup = await rejects(kube.createNode({ metadata: { name: 'node-a' } }));
    expect(dup.code).toBe('KUBE_ALREADY_EXISTS');
    expect(dup.status).toBe(409);
    await kube.deleteNode('node-b');
    expect((await rejects(kube.getNode('node-b'))).code).toBe('KUBE_NOT_FOUND');
  });

  it('patches node taints (strategic merge by key) and status conditions (by type)', async () => {
    await kube.patchNode('node-a', { spec: { taints: [{ key: 'a', value: '1', effect: 'NoSchedule' }] } });
    await kube.patchNode('node-a', { spec: { taints: [{ key: 'b', effect: 'NoExecute' }] } });
    let n = await kube.getNode('node-a');
    expect(n.spec?.taints?.map((t) => t.key)).toEqual(['a', 'b']);
    await kube.patchNode('node-a', { spec: { taints: [{ key: 'a', $patch: 'delete' }] } });
    await kube.patchNodeStatus('node-a', { status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }, { type: 'DiskPressure', status: 'False' }] } });
    await kube.patchNodeStatus('node-a', { status: { conditions: [{ type: 'Ready', status: 'False', reason: 'KubeletNotReady' }] } });
    n = await kube.getNode('node-a');
    expect(n.spec?.taints?.map((t) => t.key)).toEqual(['b']);
    expect(n.status?.conditions?.map((c) => `${c.type}=${c.status}`)).toEqual(['Ready=False', 'DiskPressure=False']);
    // a main-resource patch may not change status
    await kube.patchNode('node-a', { status: { conditions: [] } }, 'merge');
    expect((await kube.getNode('node-a')).status?.conditions?.length).toBe(2);
  });

  it('creates pods with defaults, generateName, and lists them by label and field selectors', async () => {
    const a = await kube.createPod('default', pod('web-1', { app: 'web', tier: 'front' }, { nodeName: 'node-a' }));
    expect(a.status?.phase).toBe('Pending');
    expect(a.spec?.containers[0]?.terminationMessagePath).toBe('/dev/termination-log');
    expect(a.spec?.restartPolicy).toBe('Always');
    expect(a.spec?.tolerations ?? []).toEqual([]);
    const g = await kube.createPod('default', { metadata: { generateName: 'gen-' }, spec: { containers: [{ name: 'c', image: 'x:1' }] } });
    expect(g.metadata?.name).toMatch(/^gen-[a-z0-9]{5}$/);
    await kube.createNamespace('kube-apps');
    await kube.createPod('kube-apps', pod('db-0', { app: 'db' }, { nodeName: 'node-a' }));
    await kube.createPod('kube-apps', pod('queue-0', { app: 'queue' }));

    const all = await kube.listPods();
    expect(all.items.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`).sort()).toEqual(
      ['default/web-1', `default/${g.metadata?.name}`, 'kube-apps/db-0', 'kube-apps/queue-0'].sort());
    expect(Number(all.resourceVersion)).toBeGreaterThan(0);
    expect((await kube.listPods({ namespace: 'kube-apps' })).items).toHaveLength(2);
    expect((await kube.listPods({ labelSelector: 'app in (web,db)' })).items.map((p) => p.metadata?.name).sort()).toEqual(['db-0', 'web-1']);
    expect((await kube.listPods({ labelSelector: '!tier,app' })).items.map((p) => p.metadata?.name).sort()).toEqual(['db-0', 'queue-0']);
    expect((await kube.listPods({ fieldSelector: 'spec.nodeName=node-a' })).items.map((p) => p.metadata?.name).sort()).toEqual(['db-0', 'web-1']);
    expect((await kube.listPods({ fieldSelector: 'spec.nodeName=' })).items.map((p) => p.metadata?.name).sort()).toEqual([g.metadata?.name, 'queue-0'].sort());
    expect((await kube.listPods({ namespace: 'kube-apps', fieldSelector: 'metadata.name=db-0,status.phase=Pending' })).items).toHaveLength(1);
    expect((await kube.listPods({ fieldSelector: 'status.phase!=Pending' })).items).toHaveLength(0);
    const bad = await rejects(kube.listPods({ fieldSelector: 'spec.bogus=1' }));
    expect(bad.status).toBe(400);
    expect((await rejects(kube.createPod('nowhere', pod('x')))).code).toBe('KUBE_NOT_FOUND');
  });

  it('rejects an update with a stale resourceVersion (409 Conflict) and accepts a fresh one', async () => {
    const p = await kube.getPod('default', 'web-1');
    const stale = structuredClone(p);
    await kube.patchPodLabels('default', 'web-1', { touched: '1' });
    const err = await rejects(kube.replacePod('default', 'web-1', { ...stale, metadata: { ...stale.metadata, labels: { app: 'web', lost: 'yes' } } }));
    expect(err.code).toBe('KUBE_CONFLICT');
    expect(err.reason).toBe('Conflict');
    const stalePatch = await rejects(kube.patchPodLabels('default', 'web-1', { x: 'y' }, { resourceVersion: p.metadata?.resourceVersion ?? '' }));
    expect(stalePatch.code).toBe('KUBE_CONFLICT');
    const fresh = await kube.getPod('default', 'web-1');
    const replaced = await kube.replacePod('default', 'web-1', { ...fresh, metadata: { ...fresh.metadata, labels: { ...fresh.metadata?.labels, replaced: 'yes' } } });
    expect(replaced.metadata?.labels).toMatchObject({ app: 'web', touched: '1', replaced: 'yes' });
    expect(Number(replaced.metadata?.resourceVersion)).toBeGreaterThan(Number(fresh.metadata?.resourceVersion));
    expect(replaced.metadata?.uid).toBe(p.metadata?.uid);
    // removing a label with null
    const removed = await kube.patchPodLabels('default', 'web-1', { replaced: null });
    expect(removed.metadata?.labels?.replaced).toBeUndefined();
  });

  it('watches pods from a resourceVersion, with selectors, and sees ADDED/MODIFIED/DELETED', async () => {
    const start = await kube.listPods({ namespace: 'default' });
    const events: PodWatchEvent[] = [];
    const selected: PodWatchEvent[] = [];
    const w = await kube.watchPods({ namespace: 'default', resourceVersion: start.resourceVersion }, (e) => events.push(e));
    const ws = await kube.watchPods({ labelSelector: 'watched=yes', resourceVersion: start.resourceVersion }, (e) => selected.push(e));
    try {
      await kube.createPod('default', pod('w-1', { app: 'w' }));
      await kube.patchPodLabels('default', 'w-1', { watched: 'yes' });
      await kube.patchPodLabels('default', 'w-1', { watched: null });
      await kube.deletePod('default', 'w-1');
      await kube.createPod('kube-apps', pod('elsewhere', { watched: 'yes' }));
      await until('four pod events', () => (events.length >= 4 ? true : undefined));
      await until('three selected events', () => (selected.length >= 3 ? true : undefined));
      expect(events.map((e) => `${e.type} ${e.object.metadata?.name}`)).toEqual(['ADDED w-1', 'MODIFIED w-1', 'MODIFIED w-1', 'DELETED w-1']);
      const rvs = events.map((e) => Number(e.object.metadata?.resourceVersion));
      expect([...rvs].sort((x, y) => x - y)).toEqual(rvs);
      expect(new Set(rvs).size).toBe(4);
      // entering the selection is ADDED, leaving it is DELETED
      expect(selected.map((e) => `${e.type} ${e.object.metadata?.name}`)).toEqual(['ADDED w-1', 'DELETED w-1', 'ADDED elsewhere']);
    } finally {
      w.stop();
      ws.stop();
    }
    expect(await w.ended).toBeUndefined();
  });

  it('a watch without resourceVersion first lists the current pods as ADDED', async () => {
    const events: PodWatchEvent[] = [];
    const w = await kube.watchPods({ namespace: 'kube-apps' }, (e) => events.push(e));
    try {
      await until('initial events', () => (events.length >= 3 ? true : undefined));
      expect(events.map((e) => `${e.type} ${e.object.metadata?.name}`).sort()).toEqual(['ADDED db-0', 'ADDED elsewhere', 'ADDED queue-0']);
    } finally {
      w.stop();
    }
  });

  it('DefaultTolerationSeconds: added on create, and on a label patch of an old pod, once enabled', async () => {
    const old = await kube.getPod('kube-apps', 'db-0');
    expect(old.spec?.tolerations ?? []).toEqual([]);
    // the "upgraded" apiserver: v1.13 with the admission plugin on, same etcd
    await plane.restart({ gitVersion: 'v1.13.12', defaultTolerationSeconds: true });
    expect((await kube.getVersion()).minor).toBe(13);
    // the pod is unchanged by the restart alone
    expect((await kube.getPod('kube-apps', 'db-0')).spec?.tolerations ?? []).toEqual([]);
    const touched = await kube.patchPodLabels('kube-apps', 'db-0', { 'kip.io/touched': 'v1.13.12' });
    expect(tolerationKeys(touched)).toEqual(['node.kubernetes.io/not-ready:NoExecute:300', 'node.kubernetes.io/unreachable:NoExecute:300']);
    expect(touched.metadata?.uid).toBe(old.metadata?.uid);

    const fresh = await kube.createPod('default', pod('new-1', {}, { tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 }] }));
    // its own not-ready toleration is kept as is; only unreachable is added
    expect(tolerationKeys(fresh)).toEqual(['node.kubernetes.io/not-ready:NoExecute:30', 'node.kubernetes.io/unreachable:NoExecute:300']);
    const wildcard = await kube.createPod('default', pod('tolerates-all', {}, { tolerations: [{ operator: 'Exists' }] }));
    expect(tolerationKeys(wildcard)).toEqual(['::-']);
    // a status patch is a subresource: no admission
    await plane.restart({ defaultTolerationSeconds: false });
    const bare = await kube.createPod('default', pod('bare-1'));
    await plane.restart({ defaultTolerationSeconds: true });
    await kube.patchPodStatus('default', 'bare-1', { status: { phase: 'Running' } });
    expect((await kube.getPod('default', 'bare-1')).status?.phase).toBe('Running');
    expect((await kube.getPod('default', 'bare-1')).spec?.tolerations ?? []).toEqual([]);
    expect(bare.spec?.tolerations ?? []).toEqual([]);
  });

  it('keeps every object across an apiserver restart (they live in etcd)', async () => {
    const before = await kube.listPods();
    const nodesBefore = await kube.listNodes();
    await plane.restart();
    const after = await kube.listPods();
    expect(after.items.map((p) => [p.metadata?.uid, p.metadata?.resourceVersion])).toEqual(before.items.map((p) => [p.metadata?.uid, p.metadata?.resourceVersion]));
    expect((await kube.listNodes()).map((n) => n.metadata?.uid)).toEqual(nodesBefore.map((n) => n.metadata?.uid));
  });

  it('a watch ends when the apiserver stops; a client without credentials gets 401', async () => {
    const w = await kube.watchPods({ namespace: 'default' }, () => undefined);
    await plane.restart();
    const result = await Promise.race([w.ended.then(() => 'ended'), new Promise((r) => setTimeout(() => r('still open'), 10_000))]);
    expect(result).toBe('ended');
    const anonymous = KubeClient.fromString(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "${plane.api.url}", certificate-authority: "${plane.pki.ca.cert}"}}]
users: [{name: u, user: {}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`);
    const err = await rejects(anonymous.listPods());
    expect(err.code).toBe('KUBE_UNAUTHORIZED');
    expect(err.status).toBe(401);
  });
});
