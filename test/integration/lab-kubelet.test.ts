/**
 * The lab kubelet against a real etcd + lab apiserver + private containerd: the kubelet's
 * container-hash rule (unpatched 1.13 -> 1.14 restarts exactly the containers with a volume
 * mount), the patched kubelet's skip-file rule (restarts nothing), re-admission on restart
 * (a lost nodeSelector label and a lost required-affinity label both kill their pod), init
 * containers, and the hash oracle (labels from the golden vectors; a container the vectors do
 * not hold stops the kubelet). Every "nothing changed" is asserted after the new kubelet's
 * first completed sync of every pod (/lab/syncs), never after a sleep.
 */
import { mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execaExec } from '../../lib/exec.ts';
import { silentLogger } from '../../lib/logger.ts';
import { startLabControlPlane, type LabControlPlane } from '../../scripts/lab/apiserver/harness.ts';
import { startContainerd, type ContainerdHandle } from '../../scripts/containerd/containerd.ts';
import { writeLauncher } from '../../scripts/lab/kubelet/launcher.ts';
import { createCriClient, type CriClient } from '../../agent/runtime/cri.ts';
import { KubeClient } from '../../lib/kube/index.ts';
import { loadHashVectors } from '../../scripts/lab/kubelet/hashes.ts';
import { writeLabCni } from '../../scripts/lab/cni.ts';
import { buildLabPrograms } from '../../scripts/lab/programs.ts';
import { REPO_DIR } from '../../scripts/lab/lab.ts';
import { LabKubeletProcess } from './lab-kubelet-process.ts';

let dir: string;
let plane: LabControlPlane;
let containerd: ContainerdHandle;
let cri: CriClient;
let kube: KubeClient;
let kubelet: LabKubeletProcess;

const NODE = 'lab-node-1';

/** The network namespace a container's process runs in (from containerd's task list). */
async function netnsOf(containerId: string): Promise<string> {
  const r = await execa('ctr', ['--address', containerd.socket, '-n', 'k8s.io', 'task', 'ls']);
  const pid = r.stdout.split('\n').map((l) => l.trim().split(/\s+/)).find((f) => f[0] === containerId)?.[1];
  if (!pid) throw new Error(`no task for ${containerId}:\n${r.stdout}`);
  return readlink(`/proc/${pid}/ns/net`);
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
  await writeLabCni(containerd.dir);
  cri = createCriClient({ address: containerd.address });
  kubelet = new LabKubeletProcess(join(dir, 'bin'), (port) => [
    `--kubeconfig=${plane.kubeconfig}`, `--hostname-override=${NODE}`, `--container-runtime-endpoint=${containerd.address}`,
    `--healthz-port=${port}`, '--lab-sync-interval=300', '--lab-pod-network=true',
  ], 30_000);
  kube = KubeClient.fromFile(plane.kubeconfig);
  for (const p of pods) {
    await kube.createPod('default', { metadata: { name: p.name }, spec: { nodeName: NODE, containers: p.containers } });
  }
}, 120_000);

afterAll(async () => {
  try {
    await kubelet?.stop();
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
    await kubelet.start('v1.13.12');
    const running = await kubelet.until('3 containers running', async () => {
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
    // not hostNetwork: its own network namespace (the lab's CNI network), not the host's
    expect(await netnsOf(running.get('plain/app')!.id)).not.toBe(await readlink('/proc/self/ns/net'));
  }, 90_000);

  it('unpatched 1.13 -> 1.14 restarts exactly the containers with a volume mount', async () => {
    const before = await runningContainers();
    await kubelet.stop();
    await kubelet.start('v1.14.10');
    const after = await kubelet.until('the mounted container recreated', async () => {
      const m = await runningContainers();
      return m.size === 3 && m.get('mounted/web')?.attempt === 1 ? m : undefined;
    });
    expect(after.get('plain/app')!.id).toBe(before.get('plain/app')!.id);
    expect(after.get('mounted/side')!.id).toBe(before.get('mounted/side')!.id);
    expect(after.get('mounted/web')!.id).not.toBe(before.get('mounted/web')!.id);
    expect(kubelet.log.some((l) => l.includes('Container definition changed'))).toBe(true);
    // the status write follows the runtime change: wait for it rather than race it
    await kubelet.until('restartCount 1 in the pod status', async () => {
      const pod = await kube.getPod('default', 'mounted');
      return pod.status?.containerStatuses?.find((c) => c.name === 'web')?.restartCount === 1 ? true : undefined;
    });
    const pod = await kube.getPod('default', 'mounted');
    expect(pod.status?.containerStatuses?.find((c) => c.name === 'side')?.restartCount).toBe(0);
  }, 90_000);

  it('patched 1.14 -> 1.15 with the skip file restarts nothing, not even the container whose hash changed', async () => {
    // mounted/web has no securityContext: make one container whose hash changes 1.14 -> 1.15 first.
    await kubelet.stop();
    await kube.createPod('default', { metadata: { name: 'secure' }, spec: { nodeName: NODE, containers: [{ name: 'db', image: 'postgres:10', securityContext: { runAsUser: 999 } }] } });
    await kubelet.start('v1.14.10');
    await kubelet.until('4 containers', async () => {
      const m = await runningContainers();
      return m.size === 4 ? m : undefined;
    });
    // The containers as the 1.14 kubelet leaves them: read after a sync pass it began with all
    // four running has completed (on a loaded machine a pass can still be acting on secure/db).
    const seen = (await kubelet.syncs(1)).completedSyncs;
    await kubelet.syncs(seen + 2);
    const before = await runningContainers();
    expect(before.size).toBe(4);
    await kubelet.stop();
    const skipFile = join(dir, 'cache.version.save');
    await writeFile(skipFile, `v1.14.10,${Math.floor(Date.now() / 1000) - 60}`);
    await kubelet.start('v1.15.12', { patched: skipFile });
    // the new kubelet's first completed sync of every pod: whatever it would recreate, it has
    expect((await kubelet.syncs(1)).lastSync?.pods).toBe(3);
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
    const required = { nodeSelectorTerms: [{ matchExpressions: [{ key: 'disktype', operator: 'In', values: ['ssd'] }] }] };
    await kube.createPod('default', { metadata: { name: 'affine' }, spec: { nodeName: NODE, affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: required } }, containers: [{ name: 'c', image: 'busybox' }] } });
    await kubelet.until('picky and affine running', async () => {
      const m = await runningContainers();
      return m.has('picky/c') && m.has('affine/c') ? true : undefined;
    });
    // the label goes away under a running kubelet: nothing happens until the kubelet re-admits its pods
    const seen = (await kubelet.syncs(1)).completedSyncs;
    await kube.patchNode(NODE, { metadata: { labels: { disktype: null } } }, 'merge');
    await kubelet.syncs(seen + 2);
    expect((await runningContainers()).has('picky/c')).toBe(true);
    expect((await runningContainers()).has('affine/c')).toBe(true);
    const before = await runningContainers();
    await kubelet.stop();
    await kubelet.start('v1.15.12');
    const pod = await kubelet.until('picky Failed', async () => {
      const p = await kube.getPod('default', 'picky');
      return p.status?.phase === 'Failed' ? p : undefined;
    });
    expect(pod.status?.reason).toBe('MatchNodeSelector');
    // the required-affinity twin is killed too (1.10-1.17 report it as MatchNodeSelector as well)
    const affine = await kubelet.until('affine Failed', async () => {
      const p = await kube.getPod('default', 'affine');
      return p.status?.phase === 'Failed' ? p : undefined;
    });
    expect(affine.status?.reason).toBe('MatchNodeSelector');
    expect(affine.status?.containerStatuses?.every((c) => c.ready === false && c.state?.running === undefined)).toBe(true);
    expect(kubelet.log.some((l) => l.includes('Predicate MatchNodeSelector failed'))).toBe(true);
    expect(kubelet.log.some((l) => l.includes('Killing unwanted pod'))).toBe(true);
    await kubelet.until('picky and affine gone from the runtime', async () => ([...(await runningContainers()).keys()].some((k) => k.startsWith('picky/') || k.startsWith('affine/')) ? undefined : true));
    // and the pods whose hash the unpatched 1.15 kubelet agrees with were left alone (secure/db still
    // carries the 1.14 hash the patched kubelet tolerated, so this upstream-behaving kubelet recreates it)
    const after = await kubelet.until('secure/db recreated, 4 containers running', async () => {
      const m = await runningContainers();
      return m.size === 4 && m.get('secure/db')?.id !== before.get('secure/db')?.id ? m : undefined;
    });
    for (const key of ['plain/app', 'mounted/web', 'mounted/side']) expect(after.get(key)?.id, key).toBe(before.get(key)?.id);
  }, 90_000);

  it('runs init containers to completion before the regular ones, and never recreates them for a hash change', async () => {
    await kube.createPod('default', { metadata: { name: 'initd' }, spec: { nodeName: NODE, initContainers: [{ name: 'setup', image: 'busybox', volumeMounts: [{ name: 't', mountPath: '/t' }] }], containers: [{ name: 'main', image: 'busybox' }] } });
    const done = await kubelet.until('initd/main running after its init container', async () => {
      const pod = await kube.getPod('default', 'initd');
      const init = pod.status?.initContainerStatuses?.[0];
      return pod.status?.phase === 'Running' && init?.state?.terminated?.reason === 'Completed' ? pod : undefined;
    });
    expect(done.status?.containerStatuses?.[0]?.state?.running).toBeDefined();
    const setupId = done.status?.initContainerStatuses?.[0]?.containerID;
    // 1.15 -> 1.16 changes every hash (new algorithm); the init container is still not re-run
    await kubelet.stop();
    await kubelet.start('v1.16.15');
    await kubelet.syncs(1);
    const pod = await kube.getPod('default', 'initd');
    expect(pod.status?.initContainerStatuses?.[0]?.containerID).toBe(setupId);
    expect(kubelet.log.filter((l) => l.includes('started init container'))).toEqual([]);
  }, 90_000);

  it('with the hash oracle: labels are the golden vectors\' hashes, and a container they lack stops the kubelet', async () => {
    await kubelet.stop();
    for (const name of ['mounted', 'secure', 'picky', 'affine', 'initd']) await kube.deletePod('default', name).catch(() => undefined);
    const vectors = loadHashVectors();
    const pick = (id: string) => JSON.parse(vectors.find((v) => v.id === id)!.container.raw) as { name: string };
    await kube.createPod('default', { metadata: { name: 'vec' }, spec: { nodeName: NODE, containers: [pick('res-basic'), pick('probe-http'), pick('sc-full')] } });
    await kubelet.start('v1.17.17', { extraFlags: ['--lab-hashes=vectors'] });
    const m = await kubelet.until('vec running', async () => {
      const r = await runningContainers();
      return r.has('vec/r1') && r.has('vec/p1') && r.has('vec/s2') && r.size === 4 ? r : undefined;
    });
    const golden = (id: string) => vectors.find((v) => v.id === id)!.hashes.get('1.17');
    expect(m.get('vec/r1')!.hash).toBe(golden('res-basic'));
    expect(m.get('vec/p1')!.hash).toBe(golden('probe-http'));
    expect(m.get('vec/s2')!.hash).toBe(golden('sc-full'));
    // 'plain' is, after the apiserver's defaults, exactly the vector 'minimal'
    expect(m.get('plain/app')!.hash).toBe(golden('minimal'));
    await kube.createPod('default', { metadata: { name: 'stray' }, spec: { nodeName: NODE, containers: [{ name: 'x', image: 'not-a-vector:1' }] } });
    const { exitCode, log } = await kubelet.exited();
    expect(exitCode).toBe(3);
    expect(log.some((l) => l.includes('is not one of the 30 golden vectors'))).toBe(true);
  }, 90_000);

  it('as the bundle a lab brings up with (--programs bundle): the same kubelet, started from plain JavaScript', async () => {
    await kube.deletePod('default', 'stray').catch(() => undefined);
    const programsDir = join(dir, 'programs');
    const built = await buildLabPrograms(REPO_DIR, programsDir);
    expect(built.map((b) => b.program).sort()).toEqual(['apiserver', 'controller-manager', 'kip-agent', 'kube-proxy', 'kubelet', 'scheduler']);
    await kubelet.start('v1.17.17', { extraFlags: ['--lab-hashes=vectors'], programsDir });
    // The process the launcher started is node on the bundle, not tsx on the sources.
    const pids = (await execa('pgrep', ['-f', join(programsDir, 'kubelet.mjs')], { reject: false })).stdout.split('\n').filter(Boolean);
    expect(pids.length).toBe(1);
    expect((await readFile(`/proc/${pids[0]}/cmdline`, 'utf8')).split('\0')).not.toContain('--import');
    // It speaks CRI (its proto files found through the rewritten import.meta.url) and syncs every pod.
    const report = await kubelet.syncs(1);
    expect(report.completedSyncs).toBeGreaterThanOrEqual(1);
    const m = await kubelet.until('vec running under the bundled kubelet', async () => {
      const r = await runningContainers();
      return r.has('vec/r1') ? r : undefined;
    });
    expect(m.get('vec/r1')!.hash).toBe(loadHashVectors().find((v) => v.id === 'res-basic')!.hashes.get('1.17'));
    expect((await kube.getNode(NODE)).status?.nodeInfo?.kubeletVersion).toBe('v1.17.17');
    await kubelet.stop();
  }, 180_000);
});
