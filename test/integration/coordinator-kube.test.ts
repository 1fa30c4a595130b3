/**
 * The coordinator's Kubernetes adapters against the lab apiserver (real etcd, real TLS): kip plan
 * through lib/kube, Node annotations, and the one-run-per-cluster lock: a kube-system annotation
 * on a 1.10 apiserver (no coordination.k8s.io/v1), a Lease on 1.14.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execaExec } from '../../lib/exec.ts';
import { silentLogger } from '../../lib/logger.ts';
import { KubeClient } from '../../lib/kube/index.ts';
import { kubeRestFromKubeconfig } from '../../lib/kube/raw.ts';
import { main } from '../../coordinator/cli.ts';
import { kubeCluster } from '../../coordinator/cluster.ts';
import { planVersions } from '../../coordinator/plan/path.ts';
import { removedApiFindings } from '../../coordinator/preflight/plan-findings.ts';
import { kubeClusterLock, LOCK_ANNOTATION } from '../../coordinator/lock/kube-lock.ts';
import { LockHeldError } from '../../coordinator/lock/lock.ts';
import { startLabControlPlane, type LabControlPlane } from '../../scripts/lab/apiserver/harness.ts';
import { recordingIo } from '../unit/cli-fakes.ts';

let dir: string;
let plane: LabControlPlane;
let kube: KubeClient;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kip-coord-kube-'));
  plane = await startLabControlPlane({ exec: execaExec, logger: silentLogger(), dir, gitVersion: 'v1.10.13' });
  kube = KubeClient.fromFile(plane.kubeconfig);
  for (const name of ['w1', 'w2']) {
    await kube.createNode({ metadata: { name, labels: { 'kubernetes.io/hostname': name } } });
    await kube.patchNodeStatus(name, { status: { conditions: [{ type: 'Ready', status: 'True' }], nodeInfo: { kubeletVersion: 'v1.10.13' }, addresses: [{ type: 'InternalIP', address: '127.0.0.1' }] } });
  }
}, 90_000);

afterAll(async () => {
  try {
    await plane?.stop();
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
});

describe('coordinator against the lab apiserver', () => {
  it('kip plan reads /version and the Nodes (KUBECONFIG) and prints both plans', async () => {
    const io = recordingIo({ KUBECONFIG: plane.kubeconfig, HOME: dir });
    expect(await main(['plan', '--to', 'v1.13.12', '-o', 'json'], io)).toBe(0);
    const out = JSON.parse(io.out) as { apiserver: string; nodes: { name: string; kubelet: string }[]; plans: Record<string, { kubeletRestarts: number }> };
    expect(out.apiserver).toBe('v1.10.13');
    expect(out.nodes).toEqual([{ name: 'w1', kubelet: 'v1.10.13', kubeProxy: '' }, { name: 'w2', kubelet: 'v1.10.13', kubeProxy: '' }]);
    expect(out.plans['every-step']!.kubeletRestarts).toBe(6);
    expect(out.plans['fewest-restarts']!.kubeletRestarts).toBe(4);
    const missing = recordingIo({ HOME: dir });
    expect(await main(['plan', '--to', 'v1.13.12', '--kubeconfig', join(dir, 'nope')], missing)).toBe(2);
    expect(missing.err).toMatch(/kubeconfig .*nope does not exist/);
  });

  it('kip plan lists the objects behind the API versions the path stops serving, and those last applied through them', async () => {
    const rest = await kubeRestFromKubeconfig(plane.kubeconfig);
    const deployment = (apiVersion: string, name: string) => ({
      apiVersion, kind: 'Deployment',
      metadata: { name, namespace: 'default', annotations: { 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({ apiVersion, kind: 'Deployment', metadata: { name, namespace: 'default' } }) } },
      spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } },
    });
    await rest.send('POST', '/apis/extensions/v1beta1/namespaces/default/deployments', deployment('extensions/v1beta1', 'legacy-web'));
    await rest.send('POST', '/apis/apps/v1/namespaces/default/deployments', deployment('apps/v1', 'new-web'));
    const io = recordingIo({ KUBECONFIG: plane.kubeconfig, HOME: dir });
    expect(await main(['plan', '--to', 'v1.16.15', '-o', 'json'], io)).toBe(0);
    const out = JSON.parse(io.out) as { removedApiObjects: { groupVersion: string; resource: string; total: number; appliedWithRemoved: string[]; listedAs: string }[] };
    const deployments = out.removedApiObjects.find((f) => f.groupVersion === 'extensions/v1beta1' && f.resource === 'deployments');
    expect(deployments).toEqual({ groupVersion: 'extensions/v1beta1', resource: 'deployments', total: 2, appliedWithRemoved: ['default/legacy-web'], listedAs: 'extensions/v1beta1' });
    // The 1.10 lab apiserver does not serve apps/v1beta1; its deployments are listed through apps/v1.
    expect(out.removedApiObjects.find((f) => f.groupVersion === 'apps/v1beta1' && f.resource === 'deployments')).toMatchObject({ total: 2, appliedWithRemoved: [], listedAs: 'apps/v1' });
    const text = recordingIo({ KUBECONFIG: plane.kubeconfig, HOME: dir });
    expect(await main(['plan', '--to', 'v1.16.15'], text)).toBe(0);
    expect(text.out).toMatch(/extensions\/v1beta1 deployments: 2 stored \(listed as extensions\/v1beta1\); last applied as extensions\/v1beta1: default\/legacy-web/);
    expect(text.out).toMatch(/\[component-flag\] kube-apiserver 1\.13 no longer accepts --etcd-quorum-read/);
    // kip preflight --to turns the same listing into one finding per object applied the old way.
    const cluster = await kubeCluster({ kubeconfig: plane.kubeconfig, context: undefined });
    const plan = planVersions({ apiservers: [await cluster.version()], nodes: [] }, 'v1.16.15');
    const findings = await removedApiFindings(plan, cluster.listServed);
    expect(findings.map((f) => [f.check, f.object])).toEqual([['removed-api-objects', 'deployments default/legacy-web']]);
    expect(findings[0]!.fix).toMatch(/move the manifest to apps\/v1, or keep it served for now with kube-apiserver --runtime-config=extensions\/v1beta1\/deployments=true/);
    for (const name of ['legacy-web', 'new-web']) await rest.send('DELETE', `/apis/apps/v1/namespaces/default/deployments/${name}`);
  });

  it('annotates Nodes with the run, step and state', async () => {
    const cluster = await kubeCluster({ kubeconfig: plane.kubeconfig, context: undefined });
    await cluster.annotateNode('w1', { 'kip.io/run': 'r1', 'kip.io/state': 'upgrading' });
    await cluster.annotateNode('w1', { 'kip.io/state': 'succeeded' });
    expect((await kube.getNode('w1')).metadata?.annotations).toMatchObject({ 'kip.io/run': 'r1', 'kip.io/state': 'succeeded' });
    await cluster.nodeEvent('w1', 'Warning', 'KipUpgradeFailed', 'run r1: kubelet v1.11.10: agent rolled back');
    const rest = await kubeRestFromKubeconfig(plane.kubeconfig);
    const events = (await rest.get('/api/v1/namespaces/default/events')).value as { items: { involvedObject: { kind: string; name: string }; reason: string; type: string; message: string }[] };
    expect(events.items).toContainEqual(expect.objectContaining({ involvedObject: expect.objectContaining({ kind: 'Node', name: 'w1' }), reason: 'KipUpgradeFailed', type: 'Warning', message: 'run r1: kubelet v1.11.10: agent rolled back' }));
  });

  it('locks with a kube-system annotation on 1.10, then with a Lease on 1.14', async () => {
    const rest = await kubeRestFromKubeconfig(plane.kubeconfig);
    const lock = kubeClusterLock(rest);
    expect(await lock.where()).toBe('namespace kube-system annotation kip.io/lock');
    const t = 1_800_000_000_000;
    await lock.acquire('a/1', 'run-a', 60_000, t);
    await expect(lock.acquire('b/2', 'run-b', 60_000, t + 1_000)).rejects.toBeInstanceOf(LockHeldError);
    expect((await lock.acquire('a/1', 'run-a', 60_000, t + 2_000)).acquiredAt).toBe(t); // the same run re-takes it (resume)
    // a second client racing for it sees the same holder
    expect(await kubeClusterLock(rest).read()).toMatchObject({ runId: 'run-a', holder: 'a/1', renewedAt: t + 2_000 });
    expect((await lock.renew('run-a', t + 30_000)).renewedAt).toBe(t + 30_000);
    // expired: another run may take it over
    expect(await lock.acquire('b/2', 'run-b', 60_000, t + 200_000)).toMatchObject({ runId: 'run-b' });
    await expect(lock.renew('run-a', t + 200_001)).rejects.toBeInstanceOf(LockHeldError);
    await lock.release('run-a'); // not the holder: nothing happens
    expect(await lock.read()).toMatchObject({ runId: 'run-b' });
    expect(await lock.forceRelease()).toMatchObject({ runId: 'run-b' });
    expect((await kube.listNodes()).length).toBe(2);
    const ns = (await rest.get('/api/v1/namespaces/kube-system')).value as { metadata: { annotations?: Record<string, string> } };
    expect(ns.metadata.annotations?.[LOCK_ANNOTATION]).toBeUndefined();

    await plane.restart({ gitVersion: 'v1.14.10' });
    const rest14 = await kubeRestFromKubeconfig(plane.kubeconfig);
    const lease = kubeClusterLock(rest14);
    expect(await lease.where()).toBe('Lease kube-system/kip-upgrade');
    expect(await lease.read()).toBeUndefined();
    await lease.acquire('a/1', 'run-c', 60_000, t);
    const obj = (await rest14.get('/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kip-upgrade')).value as { spec: { holderIdentity: string; leaseDurationSeconds: number } };
    expect(obj.spec).toMatchObject({ holderIdentity: 'a/1', leaseDurationSeconds: 60 });
    await expect(kubeClusterLock(rest14).acquire('b/2', 'run-d', 60_000, t + 1)).rejects.toThrow(/Lease kube-system\/kip-upgrade\): run run-c by a\/1/);
    await lease.release('run-c');
    expect(await lease.read()).toBeUndefined();
    expect(await kubeClusterLock(rest14).acquire('b/2', 'run-d', 60_000, t + 2)).toMatchObject({ runId: 'run-d' });
  });
});
