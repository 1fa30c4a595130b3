/**
 * The lab scheduler and controller-manager as real child processes (through their per-version
 * launchers) against a real etcd + the lab apiserver (startLabControlPlane). Nodes are created and
 * heartbeated by this test (PATCH node status), no kubelet: the controller-manager must notice the
 * heartbeat stopping, mark the node Unknown, taint it and evict by tolerationSeconds (v1.13.12), or
 * not within a short window (v1.12.10, pod-eviction-timeout 5m).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../lib/poll.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { CoreV1Api, type CoreV1Event, type V1Pod } from '@kubernetes/client-node';
import { execaExec } from '../../lib/exec.ts';
import { silentLogger } from '../../lib/logger.ts';
import { KubeClient, KubeApiError } from '../../lib/kube/index.ts';
import { startLabControlPlane, type LabControlPlane } from '../../scripts/lab/apiserver/harness.ts';
import { freePort } from '../../scripts/lab/etcd.ts';
import { writeSchedulerLauncher } from '../../scripts/lab/scheduler/launcher.ts';
import { writeControllerManagerLauncher } from '../../scripts/lab/controller-manager/launcher.ts';

interface Child {
  readonly name: string;
  readonly proc: ResultPromise;
  readonly log: string[];
}

let dir: string;
let plane: LabControlPlane;
let kube: KubeClient;
let core: CoreV1Api;
const children = new Set<Child>();
/** Nodes this test heartbeats (as their kubelets would), every 400 ms: a fifth of the 2 s grace period. */
const beating = new Set<string>();
let heartbeatTimer: NodeJS.Timeout | undefined;

const NOT_READY = 'node.kubernetes.io/not-ready';
const UNREACHABLE = 'node.kubernetes.io/unreachable';
const TOLERATE_300 = [
  { key: NOT_READY, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
  { key: UNREACHABLE, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
];

function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000, child?: Child): Promise<T> {
  return waitFor(what, fn, { timeoutMs, context: () => (child ? `${child.name} log:\n${child.log.slice(-20).join('\n')}` : '') });
}

async function start(name: string, bin: string, args: string[]): Promise<Child> {
  const log: string[] = [];
  const proc = execa(bin, args, { reject: false, all: true, buffer: false });
  proc.all?.on('data', (d: Buffer) => log.push(...d.toString().split('\n').filter(Boolean)));
  const child = { name, proc, log };
  children.add(child);
  return child;
}

/** SIGTERM, then SIGKILL after 10 s; returns the exit code. */
async function stop(child: Child): Promise<number | undefined> {
  children.delete(child);
  child.proc.kill('SIGTERM');
  const killer = setTimeout(() => child.proc.kill('SIGKILL'), 10_000);
  const r = await child.proc;
  clearTimeout(killer);
  return r.exitCode;
}

async function heartbeat(name: string): Promise<void> {
  const now = new Date().toISOString();
  await kube.patchNodeStatus(name, { status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: now }] } });
}

async function createNode(name: string, labels: Record<string, string> = {}): Promise<void> {
  const now = new Date().toISOString();
  await kube.createNode({
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...labels } },
    spec: {},
    status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: new Date(now), lastTransitionTime: new Date(now) }] },
  });
  beating.add(name);
}

function pod(name: string, spec: Partial<NonNullable<V1Pod['spec']>> = {}): V1Pod {
  return { metadata: { name }, spec: { containers: [{ name: 'main', image: 'kip.local/busybox:1.35', command: ['sleep', '3600'] }], ...spec } };
}

async function podGone(name: string): Promise<boolean> {
  try {
    await kube.getPod('default', name);
    return false;
  } catch (err) {
    if (err instanceof KubeApiError && err.code === 'KUBE_NOT_FOUND') return true;
    throw err;
  }
}

async function events(objectName: string): Promise<CoreV1Event[]> {
  return (await core.listEventForAllNamespaces({ fieldSelector: `involvedObject.name=${objectName}` })).items;
}

async function controllerManager(version: string, flags: string[] = []): Promise<Child> {
  const bin = join(dir, 'bin', `kube-controller-manager-${version}`);
  await writeControllerManagerLauncher(bin, { version });
  return start(`controller-manager ${version}`, bin, [
    `--kubeconfig=${plane.kubeconfig}`, '--leader-elect=false', '--port=0', '--node-monitor-period=500ms', '--node-monitor-grace-period=2s', ...flags,
  ]);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kip-cp-'));
  plane = await startLabControlPlane({ exec: execaExec, logger: silentLogger(), dir, gitVersion: 'v1.13.12', defaultTolerationSeconds: false });
  kube = KubeClient.fromFile(plane.kubeconfig);
  core = kube.config.makeApiClient(CoreV1Api);
  // Two healthy nodes for the whole file, so that one lost node is not a full disruption of the zone.
  await createNode('node-ssd', { disk: 'ssd' });
  await createNode('node-plain');
  heartbeatTimer = setInterval(() => {
    for (const n of beating) void heartbeat(n).catch(() => undefined);
  }, 400);
}, 90_000);

afterAll(async () => {
  if (heartbeatTimer) clearInterval(heartbeatTimer);
  try {
    for (const c of [...children]) await stop(c);
  } finally {
    try {
      await plane?.stop();
    } finally {
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  }
}, 60_000);

describe('lab scheduler', () => {
  it('binds a pod honouring nodeSelector, leaves an unsatisfiable one Pending/Unschedulable and ignores other schedulers\' pods', async () => {
    const bin = join(dir, 'bin', 'kube-scheduler-v1.13.12');
    await writeSchedulerLauncher(bin, { version: 'v1.13.12' });
    expect((await execa(bin, ['--version'])).stdout).toBe('Kubernetes v1.13.12');
    const healthzPort = await freePort();
    const sched = await start('scheduler', bin, [`--kubeconfig=${plane.kubeconfig}`, '--leader-elect=false', '--lab-resync-period=1s', '--address=127.0.0.1', `--port=${healthzPort}`]);
    // The insecure healthz kip-agent probes after Release (10251 by default; a free port here).
    const health = await until('scheduler /healthz', async () => {
      const r = await fetch(`http://127.0.0.1:${healthzPort}/healthz`).catch(() => undefined);
      return r?.ok ? r.text() : undefined;
    }, 30_000, sched);
    expect(health).toBe('ok');

    await kube.createPod('default', pod('wants-ssd', { nodeSelector: { disk: 'ssd' } }));
    await kube.createPod('default', pod('wants-gpu', { nodeSelector: { gpu: 'yes' } }));
    await kube.createPod('default', pod('not-mine', { schedulerName: 'my-scheduler' }));

    const ssd = await until('wants-ssd bound', async () => (await kube.getPod('default', 'wants-ssd')).spec?.nodeName || undefined, 30_000, sched);
    expect(ssd).toBe('node-ssd');
    const scheduled = await until('Scheduled event', async () => (await events('wants-ssd')).find((e) => e.reason === 'Scheduled'), 15_000, sched);
    expect(scheduled.message).toBe('Successfully assigned default/wants-ssd to node-ssd');
    expect(scheduled.source?.component).toBe('default-scheduler');
    const bound = (await kube.getPod('default', 'wants-ssd')).status?.conditions?.find((c) => c.type === 'PodScheduled');
    expect(bound?.status).toBe('True');

    // Least pods, then name: node-ssd has a pod, so anywhere-1 goes to node-plain; then 1 pod each, and
    // "node-plain" < "node-ssd" takes anywhere-2 too.
    await kube.createPod('default', pod('anywhere-1'));
    await kube.createPod('default', pod('anywhere-2'));
    const a1 = await until('anywhere-1 bound', async () => (await kube.getPod('default', 'anywhere-1')).spec?.nodeName || undefined, 30_000, sched);
    const a2 = await until('anywhere-2 bound', async () => (await kube.getPod('default', 'anywhere-2')).spec?.nodeName || undefined, 30_000, sched);
    expect([a1, a2]).toEqual(['node-plain', 'node-plain']);

    const cond = await until('wants-gpu Unschedulable', async () => {
      const c = (await kube.getPod('default', 'wants-gpu')).status?.conditions?.find((x) => x.type === 'PodScheduled');
      return c?.status === 'False' ? c : undefined;
    }, 30_000, sched);
    expect(cond.reason).toBe('Unschedulable');
    expect(cond.message).toBe("0/2 nodes are available: 2 node(s) didn't match node selector.");
    const gpu = await kube.getPod('default', 'wants-gpu');
    expect(gpu.spec?.nodeName ?? '').toBe('');
    expect(gpu.status?.phase).toBe('Pending');
    expect((await events('wants-gpu')).some((e) => e.reason === 'FailedScheduling' && e.type === 'Warning')).toBe(true);
    const other = await kube.getPod('default', 'not-mine');
    expect(other.spec?.nodeName ?? '').toBe('');
    expect(other.status?.conditions ?? []).toEqual([]);

    // A node with the label appears: the pending pod is placed on the next cycle.
    await createNode('node-gpu', { gpu: 'yes' });
    expect(await until('wants-gpu bound', async () => (await kube.getPod('default', 'wants-gpu')).spec?.nodeName || undefined, 30_000, sched)).toBe('node-gpu');

    // The apiserver restarts under it (same etcd, same port): the scheduler reopens its watch and goes on.
    await plane.restart();
    await kube.createPod('default', pod('after-restart', { nodeSelector: { disk: 'ssd' } }));
    expect(await until('after-restart bound', async () => (await kube.getPod('default', 'after-restart')).spec?.nodeName || undefined, 30_000, sched)).toBe('node-ssd');

    expect(await stop(sched)).toBe(0);
    expect(sched.log.some((l) => l.includes('"msg":"bound pod"'))).toBe(true);
    for (const p of ['wants-ssd', 'wants-gpu', 'not-mine', 'anywhere-1', 'anywhere-2', 'after-restart']) await kube.deletePod('default', p);
  }, 120_000);
});

describe('lab controller-manager (node lifecycle)', () => {
  it('v1.13.12: marks a silent node Unknown, taints it, evicts the pod without tolerations and keeps the one with tolerationSeconds 300', async () => {
    await createNode('lost-13');
    await kube.createPod('default', pod('old-13', { nodeName: 'lost-13' }));
    await kube.createPod('default', pod('tolerant-13', { nodeName: 'lost-13', tolerations: TOLERATE_300 }));
    const cm = await controllerManager('v1.13.12');
    await new Promise((r) => setTimeout(r, 1500));
    beating.delete('lost-13'); // the kubelet stops posting
    const stoppedAt = Date.now();

    const ready = await until('lost-13 Unknown', async () => {
      const c = (await kube.getNode('lost-13')).status?.conditions?.find((x) => x.type === 'Ready');
      return c?.status === 'Unknown' ? c : undefined;
    }, 30_000, cm);
    expect(ready.reason).toBe('NodeStatusUnknown');
    expect(ready.message).toBe('Kubelet stopped posting node status.');
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(1500);

    const taints = await until('unreachable NoExecute taint', async () => {
      const t = (await kube.getNode('lost-13')).spec?.taints ?? [];
      return t.some((x) => x.key === UNREACHABLE && x.effect === 'NoExecute') ? t : undefined;
    }, 30_000, cm);
    expect(taints.map((t) => `${t.key}:${t.effect}`).sort()).toEqual([`${UNREACHABLE}:NoExecute`, `${UNREACHABLE}:NoSchedule`]);
    expect(taints.find((t) => t.effect === 'NoExecute')?.timeAdded).toBeDefined();

    await until('old-13 evicted', async () => ((await podGone('old-13')) ? true : undefined), 30_000, cm);
    const ev = await until('TaintManagerEviction event', async () => (await events('old-13')).find((e) => e.reason === 'TaintManagerEviction'), 15_000, cm);
    expect(ev.message).toBe('Marking for deletion Pod default/old-13');
    expect((await events('lost-13')).some((e) => e.reason === 'NodeNotReady')).toBe(true);

    // The tolerant pod stays (300 s), marked not ready; the healthy nodes are untouched.
    await new Promise((r) => setTimeout(r, 3000));
    const tolerant = await kube.getPod('default', 'tolerant-13');
    expect(tolerant.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');
    for (const n of ['node-ssd', 'node-plain']) {
      const node = await kube.getNode(n);
      expect(node.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
      expect(node.spec?.taints ?? []).toEqual([]);
    }

    // The kubelet comes back: the taints go, the scheduled eviction is cancelled.
    beating.add('lost-13');
    await until('lost-13 untainted', async () => (((await kube.getNode('lost-13')).spec?.taints ?? []).length === 0 ? true : undefined), 30_000, cm);
    await until('cancel event', async () => (await events('tolerant-13')).find((e) => e.message === 'Cancelling deletion of Pod default/tolerant-13'), 15_000, cm);
    expect(await podGone('tolerant-13')).toBe(false);

    expect(await stop(cm)).toBe(0);
    expect(cm.log.some((l) => l.includes('"msg":"deleted pod"') && l.includes('old-13'))).toBe(true);
    await kube.deletePod('default', 'tolerant-13');
    beating.delete('lost-13');
    await kube.deleteNode('lost-13');
  }, 120_000);

  it('v1.12.10: marks the silent node Unknown and NoSchedule-taints it, but evicts nothing within the short window', async () => {
    await createNode('lost-12');
    await kube.createPod('default', pod('old-12', { nodeName: 'lost-12' }));
    const cm = await controllerManager('v1.12.10');
    await new Promise((r) => setTimeout(r, 1500));
    beating.delete('lost-12');

    await until('lost-12 Unknown', async () => ((await kube.getNode('lost-12')).status?.conditions?.find((x) => x.type === 'Ready')?.status === 'Unknown' ? true : undefined), 30_000, cm);
    const taints = await until('unreachable NoSchedule taint', async () => {
      const t = (await kube.getNode('lost-12')).spec?.taints ?? [];
      return t.some((x) => x.key === UNREACHABLE && x.effect === 'NoSchedule') ? t : undefined;
    }, 30_000, cm);
    expect(taints.some((t) => t.effect === 'NoExecute')).toBe(false);
    // Under v1.13 the pod was gone within a pass of the node going Unknown; here pod-eviction-timeout (5m) protects it.
    await new Promise((r) => setTimeout(r, 6000));
    expect(await podGone('old-12')).toBe(false);
    expect(((await kube.getNode('lost-12')).spec?.taints ?? []).some((t) => t.effect === 'NoExecute')).toBe(false);
    expect((await events('old-12')).some((e) => e.reason === 'NodeControllerEviction' || e.reason === 'TaintManagerEviction')).toBe(false);
    expect(await stop(cm)).toBe(0);
  }, 120_000);
});
