/**
 * The lab kubelet's Docker backend (scripts/lab/kubelet/dockershim.ts) against a real etcd + lab
 * apiserver + a private dockerd 20.10: pods run as dockershim runs them (a k8s_POD_ sandbox whose
 * network namespace the k8s_<container>_ containers join, dockershim's labels exactly), and
 * kip-agent's Docker reader, detected from the kubelet's own command line, reads them back with
 * the hash and restart count the kubelet wrote. Then the shared decisions on Docker: an unpatched
 * 1.13 -> 1.14 kubelet recreates exactly the container whose hash changed (attempt 1, restart count
 * 1), a patched 1.14 -> 1.15 kubelet with the skip file recreates nothing, and the agent's
 * consistency pass keeps the skip file while a container carries an old hash and removes it once
 * none does. Every "nothing changed" is asserted after the new kubelet's first completed sync.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execaExec } from '../../lib/exec.ts';
import { silentLogger } from '../../lib/logger.ts';
import { KubeClient } from '../../lib/kube/index.ts';
import { kubeRestFromKubeconfig } from '../../lib/kube/raw.ts';
import { containerHash, type JsonNode } from '../../lib/knowledge/hash/index.ts';
import { startLabControlPlane, type LabControlPlane } from '../../scripts/lab/apiserver/harness.ts';
import { startDockerd, type DockerdHandle } from '../../scripts/containerd/dockerd.ts';
import { autoRuntime, type AutoRuntime } from '../../agent/runtime/select.ts';
import { consistencyPass } from '../../agent/watch/consistency-loop.ts';
import { inventory } from '../../agent/watch/inventory.ts';
import { LabKubeletProcess } from './lab-kubelet-process.ts';

let dir: string;
let plane: LabControlPlane;
let dockerd: DockerdHandle;
let kube: KubeClient;
let kubelet: LabKubeletProcess;
const readers: AutoRuntime[] = [];

const NODE = 'lab-docker-1';

function kubeletFlags(port: number): string[] {
  return [
    `--kubeconfig=${plane.kubeconfig}`, `--hostname-override=${NODE}`, '--container-runtime=docker', `--docker-endpoint=unix://${dockerd.socket}`,
    `--pod-infra-container-image=${dockerd.images.pause}`, `--healthz-port=${port}`, '--lab-sync-interval=300',
    // dockerd's "none" network gives every sandbox a namespace of its own (loopback only), as the lab's CNI does for containerd
    '--lab-pod-network=true',
  ];
}

interface Inspected {
  Id: string;
  Name: string;
  State: { Pid: number; Running: boolean };
  Config: { Labels: Record<string, string> };
  HostConfig: { NetworkMode: string; IpcMode: string };
}

async function inspect(id: string): Promise<Inspected> {
  const r = await dockerd.docker(['inspect', id]);
  if (r.exitCode !== 0) throw new Error(`docker inspect ${id}: ${r.stderr}`);
  return (JSON.parse(r.stdout) as Inspected[])[0]!;
}

/** The kip-agent's view of the node: the runtime detected from the running kubelet's command line. */
function agentReader(): AutoRuntime {
  const pid = kubelet.pid!;
  const r = autoRuntime({
    kubeletArgv: async () => (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter((s) => s !== ''),
    readText: async () => undefined,
    logger: silentLogger(),
  });
  readers.push(r);
  return r;
}

async function running(reader: AutoRuntime): Promise<Map<string, { id: string; attempt: number; hash: string; sandbox: string }>> {
  const out = new Map<string, { id: string; attempt: number; hash: string; sandbox: string }>();
  for (const c of await reader.listContainers({ state: 'running' })) {
    out.set(`${c.labels['io.kubernetes.pod.name']}/${c.name}`, { id: c.id, attempt: c.attempt, hash: c.annotations['io.kubernetes.container.hash'] ?? '', sandbox: c.podSandboxId });
  }
  return out;
}

async function nodePods(): Promise<JsonNode> {
  const rest = await kubeRestFromKubeconfig(plane.kubeconfig);
  return (await rest.get(`/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${NODE}`)}`)).node;
}

async function servedSpec(pod: string, container: string): Promise<Record<string, unknown>> {
  const served = await kube.getPod('default', pod);
  return JSON.parse(JSON.stringify(served.spec!.containers.find((c) => c.name === container))) as Record<string, unknown>;
}

const pods = [
  { name: 'plain', spec: { containers: [{ name: 'app', image: 'nginx:1.15' }] } },
  { name: 'mounted', spec: { containers: [{ name: 'web', image: 'nginx:1.17', volumeMounts: [{ name: 'token', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }] }, { name: 'side', image: 'busybox' }] } },
  { name: 'hostnet', spec: { hostNetwork: true, containers: [{ name: 'agent', image: 'busybox' }] } },
];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kip-lab-kubelet-docker-'));
  plane = await startLabControlPlane({ exec: execaExec, logger: silentLogger(), dir: join(dir, 'cp'), gitVersion: 'v1.13.12' });
  dockerd = await startDockerd({ dir: join(dir, 'dockerd') });
  kubelet = new LabKubeletProcess(join(dir, 'bin'), kubeletFlags, 45_000);
  kube = KubeClient.fromFile(plane.kubeconfig);
  for (const p of pods) await kube.createPod('default', { metadata: { name: p.name }, spec: { nodeName: NODE, ...p.spec } });
}, 180_000);

afterAll(async () => {
  try {
    await kubelet?.stop();
    for (const r of readers) r.close();
    await dockerd?.stop();
  } finally {
    await plane?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}, 120_000);

describe('lab kubelet on dockerd (dockershim)', () => {
  it('runs each pod as a k8s_POD_ sandbox and k8s_ containers with exactly dockershim\'s names, labels and namespaces', async () => {
    await kubelet.start('v1.13.12');
    const reader = agentReader();
    const live = await kubelet.until('4 containers running', async () => {
      const m = await running(reader);
      return m.size === 4 ? m : undefined;
    });
    const plain = await kube.getPod('default', 'plain');
    const uid = plain.metadata!.uid!;
    const app = await inspect(live.get('plain/app')!.id);
    const sandbox = await inspect(live.get('plain/app')!.sandbox);
    expect(sandbox.Name).toBe(`/k8s_POD_plain_default_${uid}_0`);
    expect(sandbox.Config.Labels).toEqual({
      'io.kubernetes.pod.name': 'plain', 'io.kubernetes.pod.namespace': 'default', 'io.kubernetes.pod.uid': uid,
      'io.kubernetes.docker.type': 'podsandbox', 'io.kubernetes.container.name': 'POD',
    });
    expect(sandbox.HostConfig.NetworkMode).toBe('none');
    expect(app.Name).toBe(`/k8s_app_plain_default_${uid}_0`);
    expect(app.Config.Labels).toEqual({
      'io.kubernetes.pod.name': 'plain', 'io.kubernetes.pod.namespace': 'default', 'io.kubernetes.pod.uid': uid, 'io.kubernetes.container.name': 'app',
      'io.kubernetes.docker.type': 'container', 'io.kubernetes.sandbox.id': sandbox.Id, 'io.kubernetes.container.logpath': 'app/0.log',
      'annotation.io.kubernetes.container.hash': containerHash(await servedSpec('plain', 'app'), '1.13').label,
      'annotation.io.kubernetes.container.restartCount': '0',
      'annotation.io.kubernetes.container.terminationMessagePath': '/dev/termination-log',
    });
    // the container joins the sandbox's network (and IPC) namespace, which is not the host's
    expect(app.HostConfig).toMatchObject({ NetworkMode: `container:${sandbox.Id}`, IpcMode: `container:${sandbox.Id}` });
    const hostNs = await readlink('/proc/self/ns/net');
    expect(await readlink(`/proc/${app.State.Pid}/ns/net`)).toBe(await readlink(`/proc/${sandbox.State.Pid}/ns/net`));
    expect(await readlink(`/proc/${app.State.Pid}/ns/net`)).not.toBe(hostNs);
    // a hostNetwork pod's sandbox is on the host network, and so its container
    const hn = await inspect(live.get('hostnet/agent')!.id);
    expect((await inspect(live.get('hostnet/agent')!.sandbox)).HostConfig.NetworkMode).toBe('host');
    expect(await readlink(`/proc/${hn.State.Pid}/ns/net`)).toBe(hostNs);
    // one sandbox per pod, both containers of "mounted" in it
    expect(live.get('mounted/web')!.sandbox).toBe(live.get('mounted/side')!.sandbox);
    // the status says docker://, the node says docker
    await kubelet.until('plain Running with a docker:// id', async () => {
      const p = await kube.getPod('default', 'plain');
      return p.status?.containerStatuses?.[0]?.containerID === `docker://${app.Id}` ? true : undefined;
    });
    expect((await kube.getNode(NODE)).status?.nodeInfo?.containerRuntimeVersion).toBe('docker');
  }, 120_000);

  it('kip-agent detects Docker from the kubelet\'s flags and reads back every hash and restart count', async () => {
    const reader = agentReader();
    expect(await reader.current()).toMatchObject({ kind: 'docker', endpoint: `unix://${dockerd.socket}`, source: '--docker-endpoint' });
    const containers = await reader.listContainers();
    const inv = inventory(await nodePods(), containers, ['1.13', '1.14']);
    expect(inv).toHaveLength(4);
    for (const c of inv) {
      expect(c.problem, `${c.pod}/${c.containerName}`).toBe('');
      expect(c.matchingVersions, `${c.pod}/${c.containerName}`).toContain('1.13');
    }
    for (const c of containers) expect((await reader.containerStatus(c.id)).restartCount, c.name).toBe(0);
  }, 60_000);

  it('unpatched 1.13 -> 1.14 recreates exactly the container with a volume mount, as attempt 1 with restart count 1', async () => {
    const before = await running(agentReader());
    await kubelet.stop();
    await kubelet.start('v1.14.10');
    const reader = agentReader();
    const after = await kubelet.until('mounted/web recreated', async () => {
      const m = await running(reader);
      return m.size === 4 && m.get('mounted/web')?.attempt === 1 ? m : undefined;
    });
    for (const key of ['plain/app', 'mounted/side', 'hostnet/agent']) expect(after.get(key)!.id, key).toBe(before.get(key)!.id);
    const web = after.get('mounted/web')!;
    expect(web.id).not.toBe(before.get('mounted/web')!.id);
    const mounted = await kube.getPod('default', 'mounted');
    expect((await inspect(web.id)).Name).toBe(`/k8s_web_mounted_default_${mounted.metadata!.uid!}_1`);
    expect(web.hash).toBe(containerHash(await servedSpec('mounted', 'web'), '1.14').label);
    expect((await reader.containerStatus(web.id)).restartCount).toBe(1);
    // the lab keeps no dead attempts: the old container is gone from dockerd
    expect((await reader.listContainers()).some((c) => c.id === before.get('mounted/web')!.id)).toBe(false);
    expect(kubelet.log.some((l) => l.includes('Container definition changed'))).toBe(true);
  }, 120_000);

  it('patched 1.14 -> 1.15 with the skip file recreates nothing; the agent keeps the skip file while a hash is old and removes it once none is', async () => {
    await kubelet.stop();
    // a container whose hash changes 1.14 -> 1.15 (securityContext)
    await kube.createPod('default', { metadata: { name: 'secure' }, spec: { nodeName: NODE, containers: [{ name: 'db', image: 'postgres:10', securityContext: { runAsUser: 999 } }] } });
    await kubelet.start('v1.14.10');
    const before = await kubelet.until('5 containers', async () => {
      const m = await running(agentReader());
      return m.size === 5 ? m : undefined;
    });
    await kubelet.stop();
    const skipFile = join(dir, 'cache.version.save');
    await writeFile(skipFile, `v1.14.10,${Math.floor(Date.now() / 1000) - 60}`);
    await kubelet.start('v1.15.12', { patched: skipFile });
    expect((await kubelet.syncs(1)).lastSync?.pods).toBe(4);
    const reader = agentReader();
    const after = await running(reader);
    for (const [key, c] of before) expect(after.get(key)?.id, key).toBe(c.id);
    const spec = await servedSpec('secure', 'db');
    expect(after.get('secure/db')!.hash).toBe(containerHash(spec, '1.14').label);
    expect(containerHash(spec, '1.15').label).not.toBe(containerHash(spec, '1.14').label);

    const pass = () => consistencyPass({
      nodeExists: async () => true,
      listNodePods: nodePods,
      runtime: reader,
      kubelet: async () => ({ version: 'v1.15.12', active: true }),
      runInProgress: () => false,
      skipFile: { read: async () => (existsSync(skipFile) ? readFile(skipFile, 'utf8') : undefined), remove: () => rm(skipFile) },
      logger: silentLogger(),
    });
    const stale = await pass();
    expect(stale).toMatchObject({ kind: 'checked', removedSkipFile: false });
    expect(stale.kind === 'checked' ? stale.report.stale.map((s) => s.container).sort() : []).toContain('db');
    expect(existsSync(skipFile)).toBe(true);

    // The operator rolls every pod whose hash is old: delete them; the kubelet tears their sandboxes down.
    const staleNames = stale.kind === 'checked' ? [...new Set(stale.report.stale.map((s) => s.pod.split('/')[1]!))] : [];
    for (const name of staleNames) await kube.deletePod('default', name);
    await kubelet.until('the stale pods gone from dockerd', async () => {
      const m = await running(reader);
      return [...m.keys()].some((k) => staleNames.includes(k.split('/')[0]!)) ? undefined : true;
    });
    const done = await kubelet.until('a consistent pass', async () => {
      const r = await pass();
      return r.kind === 'checked' && r.removedSkipFile ? r : undefined;
    });
    expect(done).toMatchObject({ kind: 'checked', removedSkipFile: true, report: { stale: [], missing: [], unknown: [] } });
    expect(existsSync(skipFile)).toBe(false);
  }, 180_000);
});
