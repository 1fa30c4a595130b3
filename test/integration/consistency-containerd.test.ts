/**
 * The consistency pass on a containerd node, against a real containerd 1.6 (private instance):
 * the skip file (a real file) stays on every kind of incomplete information — an unreachable
 * apiserver (a real HTTPS client dialling a closed port), a failed runtime call (a CRI socket
 * nobody serves), a running pod the runtime shows but the API does not, and one the API reports
 * that the runtime does not run — and goes only once the join is complete and every hash matches.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCriClient, type CriClient } from '../../agent/runtime/cri.ts';
import type { PodSandboxSpec } from '../../agent/runtime/types.ts';
import { consistencyPass, type ConsistencyPorts } from '../../agent/watch/consistency-loop.ts';
import { containerHash, parseJson, type JsonNode } from '../../lib/knowledge/hash/index.ts';
import { kubeRestFromKubeconfig, listNodePods } from '../../lib/kube/raw.ts';
import { silentLogger } from '../../lib/logger.ts';
import { startContainerd, type ContainerdHandle } from '../../scripts/containerd/containerd.ts';

let ctd: ContainerdHandle | undefined;
let cri: CriClient | undefined;
let dir = '';
const clients: CriClient[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kip-consistency-ctd-'));
  ctd = await startContainerd({ dir: join(dir, 'containerd') });
  cri = createCriClient({ address: ctd.address, timeoutMs: 20_000 });
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.close();
  cri?.close();
  await ctd?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 120_000);

const c = (): CriClient => {
  if (!cri || !ctd) throw new Error('containerd did not start');
  return cri;
};

const web = { name: 'web', image: 'busybox', volumeMounts: [{ name: 'data', mountPath: '/data' }] };
const pod = (name: string, uid: string): PodSandboxSpec => ({ name, uid, namespace: 'default', labels: { 'io.kubernetes.pod.name': name, 'io.kubernetes.pod.namespace': 'default', 'io.kubernetes.pod.uid': uid } });

async function runWeb(p: PodSandboxSpec, sandboxId: string, version: string, attempt = 0): Promise<string> {
  const id = await c().createContainer(sandboxId, {
    name: 'web', attempt, image: ctd!.images.busybox, command: ['/bin/sleep', '3600'],
    labels: { ...p.labels, 'io.kubernetes.container.name': 'web' },
    annotations: { 'io.kubernetes.container.hash': containerHash(web, version).label, 'io.kubernetes.container.restartCount': String(attempt) },
  }, p);
  await c().startContainer(id);
  return id;
}

const podList = (pods: { p: PodSandboxSpec; id: string }[]): JsonNode => parseJson(JSON.stringify({
  kind: 'PodList',
  items: pods.map(({ p, id }) => ({ metadata: { name: p.name, namespace: p.namespace, uid: p.uid }, spec: { containers: [web] }, status: { containerStatuses: [{ name: 'web', containerID: `containerd://${id}`, state: { running: {} } }] } })),
}));

function ports(skipFile: string, listNodePodsFn: () => Promise<JsonNode>, runtime: CriClient = c()): ConsistencyPorts {
  return {
    nodeExists: async () => true,
    listNodePods: listNodePodsFn,
    runtime,
    kubelet: async () => ({ version: 'v1.14.10', active: true }),
    runInProgress: () => false,
    skipFile: { read: async () => (existsSync(skipFile) ? readFile(skipFile, 'utf8') : undefined), remove: () => rm(skipFile) },
    logger: silentLogger(),
  };
}

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('consistency on a containerd node (real containerd)', () => {
  it('keeps the skip file on an unreachable apiserver, a failed runtime call, a pod only one side knows, and removes it when all match', async () => {
    const skipFile = join(dir, 'cache.version.save');
    await writeFile(skipFile, 'v1.13.12,1574812800');
    const a = pod('web-a', 'uid-a');
    const sa = await c().runPodSandbox(a);
    const ida = await runWeb(a, sa, '1.14');

    // An apiserver nobody serves, through the agent's own raw client.
    const kubeconfig = join(dir, 'kubeconfig');
    await writeFile(kubeconfig, `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:${await closedPort()}\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n`);
    const rest = await kubeRestFromKubeconfig(kubeconfig, 2_000);
    const down = await consistencyPass(ports(skipFile, async () => (await listNodePods(rest, 'n1')).node));
    expect(down).toMatchObject({ kind: 'incomplete', reason: 'the API or the runtime could not be read' });
    expect(existsSync(skipFile)).toBe(true);

    // A CRI socket nobody serves: the runtime call fails.
    const nowhere = createCriClient({ address: `unix://${join(dir, 'absent.sock')}`, timeoutMs: 2_000 });
    clients.push(nowhere);
    const noRuntime = await consistencyPass(ports(skipFile, async () => podList([{ p: a, id: ida }]), nowhere));
    expect(noRuntime).toMatchObject({ kind: 'incomplete' });
    expect(existsSync(skipFile)).toBe(true);

    // A second pod runs in containerd, but the API does not list it (yet, or any more).
    const b = pod('web-b', 'uid-b');
    const sb = await c().runPodSandbox(b);
    const idb = await runWeb(b, sb, '1.14');
    const unknown = await consistencyPass(ports(skipFile, async () => podList([{ p: a, id: ida }])));
    expect(unknown).toMatchObject({ kind: 'checked', removedSkipFile: false, report: { unknown: [{ containerId: idb, pod: 'default/web-b' }] } });
    expect(existsSync(skipFile)).toBe(true);

    // The reverse: the API reports a third pod running that containerd does not run.
    const ghost = pod('web-c', 'uid-c');
    const missing = await consistencyPass(ports(skipFile, async () => podList([{ p: a, id: ida }, { p: b, id: idb }, { p: ghost, id: 'f'.repeat(64) }])));
    expect(missing).toMatchObject({ kind: 'checked', removedSkipFile: false, report: { missing: [{ containerId: 'f'.repeat(64), pod: 'default/web-c' }] } });
    expect(existsSync(skipFile)).toBe(true);

    // Both sides agree and every label is the 1.14 hash: the file goes.
    const done = await consistencyPass(ports(skipFile, async () => podList([{ p: a, id: ida }, { p: b, id: idb }])));
    expect(done).toMatchObject({ kind: 'checked', removedSkipFile: true, report: { compared: 2, stale: [], unknown: [], missing: [] } });
    expect(existsSync(skipFile)).toBe(false);
  }, 120_000);
});
