/**
 * waitForStaticPodContainer through the real CRI reader against a private containerd 1.6: the
 * containers are created as the kubelet creates a static pod's (pod `<name>-<node>`, kubelet
 * labels); the wait ignores the old image, an earlier container and another pod, and returns
 * the new container once it runs. The lab's control-plane images (busybox under the manifests'
 * names, one tarball) are each their own image, and CRI reports a container created with one by
 * that name, in ListContainers and ContainerStatus alike (what the agent's static-pod verify reads).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../lib/clock.ts';
import { waitForStaticPodContainer } from '../../agent/components/index.ts';
import { createCriClient, type CriClient } from '../../agent/runtime/cri.ts';
import type { PodSandboxSpec } from '../../agent/runtime/types.ts';
import { importBusyboxImages, startContainerd, type ContainerdHandle } from '../../scripts/containerd/containerd.ts';
import { controlPlaneImages } from '../../scripts/lab/static-control-plane.ts';

let ctd: ContainerdHandle | undefined;
let cri: CriClient | undefined;

beforeAll(async () => {
  ctd = await startContainerd({ dir: await mkdtemp(join(tmpdir(), 'kip-static-wait-')) });
  cri = createCriClient({ address: ctd.address, timeoutMs: 20_000 });
}, 120_000);

afterAll(async () => {
  cri?.close();
  await ctd?.stop();
}, 120_000);

function staticPod(name: string, node: string): PodSandboxSpec {
  const full = `${name}-${node}`;
  return { name: full, uid: `uid-${full}`, namespace: 'kube-system', labels: { 'io.kubernetes.pod.name': full, 'io.kubernetes.pod.namespace': 'kube-system', 'io.kubernetes.pod.uid': `uid-${full}` } };
}

async function run(p: PodSandboxSpec, sandbox: string, container: string, image: string, command: string[], attempt: number): Promise<string> {
  const c = cri as CriClient;
  const id = await c.createContainer(
    sandbox,
    { name: container, attempt, image, command, labels: { 'io.kubernetes.pod.name': p.name, 'io.kubernetes.pod.namespace': p.namespace, 'io.kubernetes.pod.uid': p.uid, 'io.kubernetes.container.name': container } },
    p,
  );
  await c.startContainer(id);
  return id;
}

describe('waitForStaticPodContainer against containerd', () => {
  it('finds the new container of the static pod by image and creation time, and times out naming what it saw', async () => {
    const c = cri as CriClient;
    const h = ctd as ContainerdHandle;
    const p = staticPod('kube-scheduler', 'node1');
    const sb = await c.runPodSandbox(p);
    // The "old version": the pause image, running.
    await run(p, sb, 'kube-scheduler', h.images.pause, ['/bin/sleep', '3600'], 0);
    // Another static pod whose name merely starts with the same text runs the new image already.
    const other = staticPod('kube-scheduler-x', 'node1');
    const sbOther = await c.runPodSandbox(other);
    await run(other, sbOther, 'kube-scheduler', h.images.busybox, ['/bin/sleep', '3600'], 0);

    const sinceNs = BigInt(Date.now()) * 1_000_000n;
    const opts = { container: 'kube-scheduler', podName: 'kube-scheduler', nodeName: 'node1', image: h.images.busybox, sinceNs, pollMs: 100 };
    await expect(waitForStaticPodContainer(c, systemClock, { ...opts, timeoutMs: 600 })).rejects.toMatchObject({ code: 'STATIC_POD_NOT_RUNNING' });

    const waiting = waitForStaticPodContainer(c, systemClock, { ...opts, timeoutMs: 20_000 });
    // The kubelet's swap: the new container (attempt 1) with the new image.
    const newId = await run(p, sb, 'kube-scheduler', h.images.busybox, ['/bin/sleep', '3600'], 1);
    const found = await waiting;
    expect(found.id).toBe(newId);
    expect(found.state).toBe('running');
    expect(found.labels['io.kubernetes.pod.name']).toBe('kube-scheduler-node1');
    for (const s of [sb, sbOther]) {
      await c.stopPodSandbox(s);
      await c.removePodSandbox(s);
    }
  }, 60_000);

  it('the lab control-plane images: one import, each its own image, reported by CRI under the manifest name', async () => {
    const c = cri as CriClient;
    const h = ctd as ContainerdHandle;
    const images = controlPlaneImages(['v1.10.13', 'v1.11.10']);
    expect(images.map((i) => i.name)).toContain('k8s.gcr.io/kube-apiserver-amd64:v1.11.10');
    expect(images.map((i) => i.name)).toContain('k8s.gcr.io/kube-scheduler:v1.10.13');
    await importBusyboxImages(h, images);
    const oldName = 'k8s.gcr.io/kube-apiserver-amd64:v1.10.13';
    const newName = 'k8s.gcr.io/kube-apiserver-amd64:v1.11.10';
    const [oldImg, newImg] = [await c.imageStatus(oldName), await c.imageStatus(newName)];
    expect(oldImg?.repoTags).toEqual([oldName]);
    expect(newImg?.repoTags).toEqual([newName]);
    expect(oldImg?.id).not.toBe(newImg?.id);
    const p = staticPod('kube-apiserver', 'cp');
    const sb = await c.runPodSandbox(p);
    const id = await run(p, sb, 'kube-apiserver', newName, ['/bin/sleep', '3600'], 0);
    const listed = (await c.listContainers({ labelSelector: { 'io.kubernetes.container.name': 'kube-apiserver' } })).find((x) => x.id === id);
    expect(listed?.image).toBe(newName);
    const status = await c.containerStatus(id);
    expect(status.image).toBe(newName);
    expect(status.imageRef).toBe(newImg?.id);
    await c.stopPodSandbox(sb);
    await c.removePodSandbox(sb);
  }, 90_000);
});
