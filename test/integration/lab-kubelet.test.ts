/**
 * The lab kubelet against a real etcd + lab apiserver + private containerd: the kubelet's
 * container-hash rule (unpatched 1.13 -> 1.14 restarts exactly the containers with a volume
 * mount), the patched kubelet's skip-file rule (restarts nothing), and MatchNodeSelector
 * re-admission on restart.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execaExec } from '../../lib/exec.ts';
import { waitFor } from '../../lib/poll.ts';
import { silentLogger } from '../../lib/logger.ts';
import { startLabControlPlane, type LabControlPlane } from '../../scripts/lab/apiserver/harness.ts';
import { startContainerd, type ContainerdHandle } from '../../scripts/containerd/containerd.ts';
import { writeLauncher } from '../../scripts/lab/kubelet/launcher.ts';
import { freePort } from '../../scripts/lab/etcd.ts';
import { createCriClient, type CriClient } from '../../agent/runtime/cri.ts';
import { KubeClient } from '../../lib/kube/index.ts';

let dir: string;
let plane: LabControlPlane;
let containerd: ContainerdHandle;
let cri: CriClient;
let kube: KubeClient;
let kubelet: { proc: ResultPromise; log: string[] } | undefined;

const NODE = 'lab-node-1';

function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  return waitFor(what, fn, { timeoutMs, context: () => `kubelet log:\n${kubelet?.log.slice(-15).join('\n') ?? '(none)'}` });
}

async function startKubelet(version: string, opts: { patched?: string; nodeLabels?: string; extraFlags?: string[] } = {}): Promise<void> {
  const bin = join(dir, 'bin', `kubelet-${version}${opts.patched ? '-patched' : ''}`);
  await writeLauncher(bin, { version, skipFilePath: opts.patched });
  const port = await freePort();
  const log: string[] = [];
  const proc = execa(bin, [
    `--kubeconfig=${plane.kubeconfig}`, `--hostname-override=${NODE}`, `--container-runtime-endpoint=${containerd.address}`,
    `--healthz-port=${port}`, '--lab-sync-interval=300', ...(opts.nodeLabels ? [`--node-labels=${opts.nodeLabels}`] : []), ...(opts.extraFlags ?? []),
  ], { reject: false, all: true, buffer: false });
  proc.all?.on('data', (d: Buffer) => log.push(...d.toString().split('\n').filter(Boolean)));
  kubelet = { proc, log };
  await until(`kubelet ${version} healthz`, async () => {
    const r = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
    return r?.ok ? true : undefined;
  });
}

async function stopKubelet(): Promise<void> {
  if (!kubelet) return;
  kubelet.proc.kill('SIGTERM');
  await kubelet.proc;
  kubelet = undefined;
}

async function runningContainers(): Promise<Map<string, { id: string; attempt: number; hash: string }>> {
  const out = new Map<string, { id: string; attempt: number; hash: string }>();
  for (const c of await cri.listContainers({ state: 'running' })) {
    out.set(`${c.labels['io.kubernetes.pod.name']}/${c.name}`, { id: c.id, attempt: c.attempt, hash: c.annotations['io.kubernetes.container.hash'] ?? '' });
  }
  return out;
}

const pods = [
  { name: 'plain', containers: [{ name: 'app', image: 'nginx:1.15', resources: {} }] },
  { name: 'mounted', containers: [{ name: 'web', image: 'nginx:1.17', volumeMounts: [{ name: 'token', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }] }, { name: 'side', image: 'busybox' }] },
];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kip-lab-kubelet-'));
  plane = await startLabControlPlane({ exec: execaExec, logger: silentLogger(), dir: join(dir, 'cp'), gitVersion: 'v1.13.12' });
  containerd = await startContainerd({ dir: join(dir, 'containerd') });
  cri = createCriClient({ address: containerd.address });
  kube = KubeClient.fromFile(plane.kubeconfig);
  for (const p of pods) {
    await kube.createPod('default', { metadata: { name: p.name }, spec: { nodeName: NODE, containers: p.containers } });
  }
}, 120_000);

afterAll(async () => {
  try {
    await stopKubelet();
    cri?.close();
    await containerd?.stop();
  } finally {
    await plane?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}, 60_000);

describe('lab kubelet', () => {
  it('prints its version like a kubelet, and refuses a flag its version removed', async () => {
    const bin = join(dir, 'bin', 'probe-v1.12.10');
    await writeLauncher(bin, { version: 'v1.12.10' });
    expect((await execa(bin, ['--version'])).stdout).toBe('Kubernetes v1.12.10');
    const r = await execa(bin, ['--cadvisor-port=0', `--kubeconfig=${plane.kubeconfig}`, `--hostname-override=${NODE}`], { reject: false });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('unknown flag: --cadvisor-port');
  });

  it('registers its node and runs the pods bound to it with the kubelet hash of its version', async () => {
    await startKubelet('v1.13.12');
    const running = await until('3 containers running', async () => {
      const m = await runningContainers();
      return m.size === 3 ? m : undefined;
    });
    const node = await kube.getNode(NODE);
    expect(node.status?.nodeInfo?.kubeletVersion).toBe('v1.13.12');
    expect(running.get('plain/app')!.attempt).toBe(0);
    // the label equals kip's hash of the spec as served by the apiserver for 1.13
    const served = await kube.getPod('default', 'plain');
    const { containerHash } = await import('../../lib/knowledge/hash/index.ts');
    expect(running.get('plain/app')!.hash).toBe(containerHash(JSON.parse(JSON.stringify(served.spec!.containers[0])), '1.13').label);
  }, 90_000);

  it('unpatched 1.13 -> 1.14 restarts exactly the containers with a volume mount', async () => {
    const before = await runningContainers();
    await stopKubelet();
    await startKubelet('v1.14.10');
    const after = await until('the mounted container recreated', async () => {
      const m = await runningContainers();
      return m.size === 3 && m.get('mounted/web')?.attempt === 1 ? m : undefined;
    });
    expect(after.get('plain/app')!.id).toBe(before.get('plain/app')!.id);
    expect(after.get('mounted/side')!.id).toBe(before.get('mounted/side')!.id);
    expect(after.get('mounted/web')!.id).not.toBe(before.get('mounted/web')!.id);
    expect(kubelet!.log.some((l) => l.includes('Container definition changed'))).toBe(true);
    // the status write follows the runtime change: wait for it rather than race it
    await until('restartCount 1 in the pod status', async () => {
      const pod = await kube.getPod('default', 'mounted');
      return pod.status?.containerStatuses?.find((c) => c.name === 'web')?.restartCount === 1 ? true : undefined;
    });
    const pod = await kube.getPod('default', 'mounted');
    expect(pod.status?.containerStatuses?.find((c) => c.name === 'side')?.restartCount).toBe(0);
  }, 90_000);

  it('patched 1.14 -> 1.15 with the skip file restarts nothing, not even the container whose hash changed', async () => {
    // mounted/web has no securityContext: make one container whose hash changes 1.14 -> 1.15 first.
    await stopKubelet();
    await kube.createPod('default', { metadata: { name: 'secure' }, spec: { nodeName: NODE, containers: [{ name: 'db', image: 'postgres:10', securityContext: { runAsUser: 999 } }] } });
    await startKubelet('v1.14.10');
    const before = await until('4 containers', async () => {
      const m = await runningContainers();
      return m.size === 4 ? m : undefined;
    });
    await stopKubelet();
    const skipFile = join(dir, 'cache.version.save');
    await writeFile(skipFile, `v1.14.10,${Math.floor(Date.now() / 1000) - 60}`);
    await startKubelet('v1.15.12', { patched: skipFile });
    // several syncs pass; nothing may be recreated
    await new Promise((r) => setTimeout(r, 2_000));
    const after = await runningContainers();
    for (const [key, c] of before) expect(after.get(key)?.id, key).toBe(c.id);
    // the check was really skipped: secure/db's label is the 1.14 hash, which 1.15 computes differently
    const served = await kube.getPod('default', 'secure');
    const { containerHash } = await import('../../lib/knowledge/hash/index.ts');
    const spec = JSON.parse(JSON.stringify(served.spec!.containers[0]));
    expect(after.get('secure/db')!.hash).toBe(containerHash(spec, '1.14').label);
    expect(containerHash(spec, '1.15').label).not.toBe(containerHash(spec, '1.14').label);
    // the skip file is left as it was (the kubelet only reads it)
    expect(await readFile(skipFile, 'utf8')).toBe(`v1.14.10,${(await readFile(skipFile, 'utf8')).split(',')[1]}`);
  }, 120_000);

  it('kills a pod whose nodeSelector label its node lost, when the kubelet restarts (MatchNodeSelector)', async () => {
    await kube.patchNode(NODE, { metadata: { labels: { disktype: 'ssd' } } }, 'merge');
    await kube.createPod('default', { metadata: { name: 'picky' }, spec: { nodeName: NODE, nodeSelector: { disktype: 'ssd' }, containers: [{ name: 'c', image: 'busybox' }] } });
    await until('picky running', async () => ((await runningContainers()).has('picky/c') ? true : undefined));
    // the label goes away under a running kubelet: nothing happens until the kubelet re-admits its pods
    await kube.patchNode(NODE, { metadata: { labels: { disktype: null } } }, 'merge');
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await runningContainers()).has('picky/c')).toBe(true);
    const before = await runningContainers();
    await stopKubelet();
    await startKubelet('v1.15.12');
    const pod = await until('picky Failed', async () => {
      const p = await kube.getPod('default', 'picky');
      return p.status?.phase === 'Failed' ? p : undefined;
    });
    expect(pod.status?.reason).toBe('MatchNodeSelector');
    expect(kubelet!.log.some((l) => l.includes('Predicate MatchNodeSelector failed'))).toBe(true);
    expect(kubelet!.log.some((l) => l.includes('Killing unwanted pod'))).toBe(true);
    await until('picky gone from the runtime', async () => ([...(await runningContainers()).keys()].some((k) => k.startsWith('picky/')) ? undefined : true));
    // and the pods whose hash the unpatched 1.15 kubelet agrees with were left alone (secure/db still
    // carries the 1.14 hash the patched kubelet tolerated, so this upstream-behaving kubelet recreates it)
    const after = await until('secure/db recreated, 4 containers running', async () => {
      const m = await runningContainers();
      return m.size === 4 && m.get('secure/db')?.id !== before.get('secure/db')?.id ? m : undefined;
    });
    for (const key of ['plain/app', 'mounted/web', 'mounted/side']) expect(after.get(key)?.id, key).toBe(before.get(key)?.id);
  }, 90_000);
});
