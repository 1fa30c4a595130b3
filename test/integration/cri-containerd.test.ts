/**
 * The CRI client and the node watcher against a real containerd 1.6 (private instance started
 * here: own root, state and socket), through the same code production uses.
 */
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCriClient, type CriClient } from '../../agent/runtime/cri.ts';
import type { PodSandboxSpec } from '../../agent/runtime/types.ts';
import { EventLog } from '../../agent/watch/event-log.ts';
import { NodeWatcher } from '../../agent/watch/node-watcher.ts';
import { systemClock } from '../../lib/clock.ts';
import { silentLogger } from '../../lib/logger.ts';
import { startContainerd, type ContainerdHandle } from '../../scripts/containerd/containerd.ts';
import { mountsUnder } from '../../scripts/containerd/mounts.ts';
import { waitFor } from '../../lib/poll.ts';

let ctd: ContainerdHandle | undefined;
let cri: CriClient | undefined;
let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kip-cri-'));
  ctd = await startContainerd({ dir });
  cri = createCriClient({ address: ctd.address, timeoutMs: 20_000 });
}, 120_000);

afterAll(async () => {
  cri?.close();
  await ctd?.stop();
}, 120_000);

function client(): CriClient {
  if (cri === undefined) throw new Error('containerd did not start');
  return cri;
}
function handle(): ContainerdHandle {
  if (ctd === undefined) throw new Error('containerd did not start');
  return ctd;
}

function pod(name: string, uid: string): PodSandboxSpec {
  return {
    name,
    uid,
    namespace: 'default',
    labels: { 'io.kubernetes.pod.name': name, 'io.kubernetes.pod.namespace': 'default', 'io.kubernetes.pod.uid': uid },
  };
}

function kubeletLabels(p: PodSandboxSpec, container: string): Record<string, string> {
  return { 'io.kubernetes.pod.name': p.name, 'io.kubernetes.pod.namespace': p.namespace, 'io.kubernetes.pod.uid': p.uid, 'io.kubernetes.container.name': container };
}

describe('CRI client against containerd 1.6', () => {
  it('detects runtime.v1 and reads the runtime version', async () => {
    const v = await client().version();
    expect(v.criApi).toBe('v1');
    expect(v.runtimeName).toBe('containerd');
    expect(v.runtimeVersion).toMatch(/^1\.6\./);
  });

  it('lists the locally imported images and answers absent images with undefined', async () => {
    const tags = (await client().listImages()).flatMap((i) => i.repoTags);
    expect(tags).toEqual(expect.arrayContaining([handle().images.busybox, handle().images.pause]));
    expect((await client().imageStatus(handle().images.busybox))?.repoTags).toContain(handle().images.busybox);
    expect(await client().imageStatus('kip.local/absent:0')).toBeUndefined();
  });

  it('runs a pod with a labelled container, reads it back on v1 and v1alpha2, stops and removes it', async () => {
    const c = client();
    const p = pod('reader', 'uid-reader');
    const sandboxId = await c.runPodSandbox(p);
    const id = await c.createContainer(
      sandboxId,
      {
        name: 'app',
        image: handle().images.busybox,
        command: ['/bin/sleep', '3600'],
        labels: kubeletLabels(p, 'app'),
        annotations: { 'io.kubernetes.container.hash': 'deadbeef', 'io.kubernetes.container.restartCount': '0' },
      },
      p,
    );
    await c.startContainer(id);

    const sandboxes = await c.listPodSandboxes({ id: sandboxId });
    expect(sandboxes).toHaveLength(1);
    expect(sandboxes[0]).toMatchObject({ id: sandboxId, name: 'reader', uid: 'uid-reader', namespace: 'default', attempt: 0, state: 'ready' });

    const listed = await c.listContainers({ podSandboxId: sandboxId });
    expect(listed).toHaveLength(1);
    const info = listed[0];
    expect(info).toMatchObject({ id, podSandboxId: sandboxId, name: 'app', attempt: 0, state: 'running', image: handle().images.busybox });
    expect(info?.labels).toMatchObject(kubeletLabels(p, 'app'));
    expect(info?.annotations['io.kubernetes.container.hash']).toBe('deadbeef');
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    expect(info?.createdAtNs).toBeGreaterThan(nowNs - 600n * 1_000_000_000n);
    expect(info?.createdAtNs).toBeLessThanOrEqual(nowNs + 1_000_000_000n);

    const alpha = createCriClient({ address: handle().address, apiVersion: 'v1alpha2', timeoutMs: 20_000 });
    try {
      expect(await alpha.apiVersion()).toBe('v1alpha2');
      expect((await alpha.version()).runtimeApiVersion).toBe('v1alpha2');
      expect(await alpha.listContainers({ podSandboxId: sandboxId })).toEqual(listed);
    } finally {
      alpha.close();
    }

    const running = await c.containerStatus(id);
    expect(running).toMatchObject({ state: 'running', restartCount: 0, finishedAtNs: 0n });
    expect(running.startedAtNs).toBeGreaterThanOrEqual(running.createdAtNs);

    await c.stopContainer(id, 1); // sleep as pid 1 ignores SIGTERM: SIGKILL after 1 s
    const stopped = await c.containerStatus(id);
    expect(stopped.state).toBe('exited');
    expect(stopped.finishedAtNs).toBeGreaterThan(stopped.startedAtNs);
    expect(stopped.exitCode).toBe(137);

    await c.removeContainer(id);
    await expect(c.containerStatus(id)).rejects.toMatchObject({ code: 'CRI_NOT_FOUND' });
    await c.stopPodSandbox(sandboxId);
    await c.removePodSandbox(sandboxId);
    expect(await c.listPodSandboxes({ id: sandboxId })).toEqual([]);
  }, 90_000);
});

describe('NodeWatcher against containerd 1.6', () => {
  it('reports exactly one restart when attempt 0 is stopped and attempt 1 created', async () => {
    const c = client();
    const p = pod('web', 'uid-web');
    const other = pod('quiet', 'uid-quiet');
    const sandboxId = await c.runPodSandbox(p);
    const quietSandbox = await c.runPodSandbox(other);
    const spec = (attempt: number) => ({
      name: 'app',
      attempt,
      image: handle().images.busybox,
      command: ['/bin/sleep', '3600'],
      labels: kubeletLabels(p, 'app'),
      annotations: { 'io.kubernetes.container.restartCount': String(attempt) },
    });
    const first = await c.createContainer(sandboxId, spec(0), p);
    await c.startContainer(first);
    // a same-named container in another pod must not be confused with it
    const quiet = await c.createContainer(quietSandbox, { ...spec(0), labels: kubeletLabels(other, 'app') }, other);
    await c.startContainer(quiet);

    const log = new EventLog();
    const watcher = new NodeWatcher({ reader: c, skipFile: async () => undefined, kubelet: async () => ({ active: true, mainPid: 1 }), log, clock: systemClock, intervalMs: 200, logger: silentLogger() });
    watcher.start();
    try {
      await waitFor('baseline', async () => (watcher.polls >= 1 ? true : undefined), { timeoutMs: 20_000 });
      expect(log.since(0)).toEqual([]);

      await c.stopContainer(first, 1);
      const second = await c.createContainer(sandboxId, spec(1), p);
      await c.startContainer(second);

      const restart = await waitFor('the restart event', async () => log.since(0).find((e) => e.kind === 'CONTAINER_RESTARTED'), { timeoutMs: 30_000 });
      // let several more polls pass: the restart must be reported once, and nothing else may appear
      const pollsNow = watcher.polls;
      await waitFor('three more polls', async () => (watcher.polls >= pollsNow + 3 ? true : undefined), { timeoutMs: 30_000 });

      const events = log.since(0);
      expect(events.filter((e) => e.kind === 'CONTAINER_RESTARTED')).toHaveLength(1);
      expect(restart).toMatchObject({ podUid: 'uid-web', podName: 'web', podNamespace: 'default', containerName: 'app', restarts: 1, beforeId: first, afterId: second, exitCode: 137 });
      expect(BigInt(restart.afterCreatedAtNs ?? 0n)).toBeGreaterThan(BigInt(restart.beforeCreatedAtNs ?? 0n));
      // the stop is one CONTAINER_DIED of the first container (also when one poll saw stop and replacement)
      const died = events.filter((e) => e.kind === 'CONTAINER_DIED');
      expect(died).toHaveLength(1);
      expect(died[0]).toMatchObject({ podUid: 'uid-web', beforeId: first, exitCode: 137 });
      expect(events.filter((e) => e.podUid === 'uid-quiet')).toEqual([]);
    } finally {
      await watcher.stop();
    }
  }, 120_000);
});

describe('private containerd harness', () => {
  it('stop() removes pods, ends containerd and its shims, unmounts and removes its directory', async () => {
    const h = handle();
    const c = client();
    const p = pod('left-running', 'uid-left');
    const sb = await c.runPodSandbox(p);
    const id = await c.createContainer(sb, { name: 'app', image: h.images.busybox, command: ['/bin/sleep', '3600'] }, p);
    await c.startContainer(id);
    expect((await mountsUnder(dir)).length).toBeGreaterThan(0);
    cri?.close();
    await h.stop();
    expect(() => process.kill(h.pid, 0)).toThrow();
    expect(await mountsUnder(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  }, 90_000);
});
