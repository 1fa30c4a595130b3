/**
 * The Docker Engine API reader and its dockershim view against a real dockerd 20.10 (private
 * instance started here), with containers laid out the way dockershim lays them out.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerClient, dockershimReader, type DockerClient } from '../../agent/runtime/docker.ts';
import { dockerEvents } from '../../agent/runtime/docker-events.ts';
import { EventLog, type SequencedEvent } from '../../agent/watch/event-log.ts';
import { NodeWatcher } from '../../agent/watch/node-watcher.ts';
import { systemClock } from '../../lib/clock.ts';
import { silentLogger } from '../../lib/logger.ts';
import { startDockerd, type DockerdHandle } from '../../scripts/containerd/dockerd.ts';
import { waitFor } from '../../lib/poll.ts';

let dockerd: DockerdHandle | undefined;
let client: DockerClient | undefined;

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kip-docker-'));
  dockerd = await startDockerd({ dir });
  client = createDockerClient({ socketPath: `unix://${dockerd.socket}`, timeoutMs: 20_000 });
}, 120_000);

afterAll(async () => {
  await dockerd?.stop();
}, 120_000);

function d(): DockerdHandle {
  if (dockerd === undefined) throw new Error('dockerd did not start');
  return dockerd;
}
function c(): DockerClient {
  if (client === undefined) throw new Error('dockerd did not start');
  return client;
}

async function docker(...args: string[]): Promise<string> {
  const r = await d().docker(args);
  if (r.exitCode !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

const POD = { name: 'web', namespace: 'default', uid: 'uid-web' };
const podLabels = ['--label', `io.kubernetes.pod.name=${POD.name}`, '--label', `io.kubernetes.pod.namespace=${POD.namespace}`, '--label', `io.kubernetes.pod.uid=${POD.uid}`];

/** What dockershim creates for a pod: a sandbox (infra) container, then application containers. */
async function runSandbox(): Promise<string> {
  return docker('run', '-d', '--name', `k8s_POD_${POD.name}_${POD.namespace}_${POD.uid}_0`, '--network', 'none', '--label', 'io.kubernetes.docker.type=podsandbox', ...podLabels, d().images.pause);
}
async function runApp(sandboxId: string, attempt: number): Promise<string> {
  const id = await docker(
    'create',
    '--name',
    `k8s_app_${POD.name}_${POD.namespace}_${POD.uid}_${attempt}`,
    '--network',
    `container:${sandboxId}`,
    '--label',
    'io.kubernetes.docker.type=container',
    '--label',
    `io.kubernetes.sandbox.id=${sandboxId}`,
    '--label',
    'io.kubernetes.container.name=app',
    ...podLabels,
    '--label',
    'annotation.io.kubernetes.container.hash=abcd1234',
    '--label',
    `annotation.io.kubernetes.container.restartCount=${attempt}`,
    d().images.busybox,
    '/bin/sleep',
    '3600',
  );
  await docker('start', id);
  return id;
}

let sandboxId = '';
let appId = '';

describe('Docker Engine API reader against dockerd 20.10', () => {
  it('reads the daemon version', async () => {
    const v = await c().version();
    expect(v.version).toMatch(/^20\.10\./);
    expect(v.apiVersion).toBe('1.41');
  });

  it('lists dockershim-style containers with their labels and inspects their state', async () => {
    sandboxId = await runSandbox();
    appId = await runApp(sandboxId, 0);
    const listed = await c().listContainers({ labels: { 'io.kubernetes.pod.uid': POD.uid } });
    expect(listed.map((x) => x.id).sort()).toEqual([sandboxId, appId].sort());
    const app = listed.find((x) => x.id === appId);
    expect(app).toMatchObject({ names: ['k8s_app_web_default_uid-web_0'], state: 'running', image: d().images.busybox });
    expect(app?.labels['annotation.io.kubernetes.container.hash']).toBe('abcd1234');
    expect(app?.createdAtS).toBeGreaterThan(Date.now() / 1000 - 600);

    const details = await c().inspectContainer(appId);
    expect(details).toMatchObject({ id: appId, name: 'k8s_app_web_default_uid-web_0', status: 'running', running: true, restartCount: 0, exitCode: 0, finishedAtNs: 0n });
    expect(details.startedAtNs).toBeGreaterThan(details.createdAtNs);
    expect(details.startedAtNs - details.createdAtNs).toBeLessThan(120n * 1_000_000_000n);
    expect(details.labels['io.kubernetes.container.name']).toBe('app');
  }, 60_000);

  it('presents the dockershim view: CRI labels, annotations, attempt and sandbox', async () => {
    const reader = dockershimReader(c());
    expect(await reader.version()).toMatchObject({ runtimeName: 'docker', criApi: 'v1alpha2' });
    const containers = await reader.listContainers();
    expect(containers).toHaveLength(1);
    expect(containers[0]).toMatchObject({ id: appId, podSandboxId: sandboxId, name: 'app', attempt: 0, state: 'running' });
    expect(containers[0]?.annotations).toEqual({ 'io.kubernetes.container.hash': 'abcd1234', 'io.kubernetes.container.restartCount': '0' });
    expect(Object.keys(containers[0]?.labels ?? {}).sort()).toEqual(['io.kubernetes.container.name', 'io.kubernetes.pod.name', 'io.kubernetes.pod.namespace', 'io.kubernetes.pod.uid']);
    const sandboxes = await reader.listPodSandboxes();
    expect(sandboxes).toHaveLength(1);
    expect(sandboxes[0]).toMatchObject({ id: sandboxId, name: 'web', uid: 'uid-web', namespace: 'default', attempt: 0, state: 'ready' });
    const status = await reader.containerStatus(appId);
    expect(status).toMatchObject({ id: appId, name: 'app', attempt: 0, state: 'running', restartCount: 0 });
  });

  it('reports a missing container and an absent daemon with stable codes', async () => {
    await expect(c().inspectContainer('0123456789ab0123456789ab')).rejects.toMatchObject({ code: 'DOCKER_NOT_FOUND' });
    const nowhere = createDockerClient({ socketPath: join(d().dir, 'absent.sock'), timeoutMs: 2_000 });
    await expect(nowhere.version()).rejects.toMatchObject({ code: 'DOCKER_UNAVAILABLE' });
  });

  const watcherOn = (log: EventLog, intervalMs: number, wake?: boolean) => new NodeWatcher({
    reader: dockershimReader(c()), skipFile: async () => undefined, kubelet: async () => ({ active: true, mainPid: 1 }), log, clock: systemClock, intervalMs, logger: silentLogger(),
    ...(wake ? { wake: (signal: AbortSignal) => dockerEvents(`unix://${d().socket}`, signal), wakeRetryMs: 200 } : {}),
  });
  const restarted = (log: EventLog) => log.since(0).filter((e): e is SequencedEvent => e.kind === 'CONTAINER_RESTARTED');

  it('lets the node watcher see exactly one restart on a dockershim node', async () => {
    const log = new EventLog();
    const watcher = watcherOn(log, 200);
    watcher.start();
    try {
      await waitFor('baseline', async () => (watcher.polls >= 1 ? true : undefined), { timeoutMs: 20_000 });
      await docker('kill', appId);
      const second = await runApp(sandboxId, 1);
      const restart = await waitFor('the restart event', async () => restarted(log)[0], { timeoutMs: 30_000 });
      const polls = watcher.polls;
      await waitFor('three more polls', async () => (watcher.polls >= polls + 3 ? true : undefined), { timeoutMs: 30_000 });
      expect(restarted(log)).toHaveLength(1);
      expect(restart).toMatchObject({ podUid: 'uid-web', containerName: 'app', restarts: 1, beforeId: appId, afterId: second, exitCode: 137 });
      appId = second;
    } finally {
      await watcher.stop();
    }
  }, 90_000);

  it('polls at once on dockerd\'s events: a restart is seen long before the next poll would come', async () => {
    const log = new EventLog();
    // One poll an hour: only the /events stream can make the watcher see the restart in time.
    const watcher = watcherOn(log, 3_600_000, true);
    watcher.start();
    try {
      await waitFor('baseline', async () => (watcher.polls >= 1 ? true : undefined), { timeoutMs: 20_000 });
      // The stream is open once an event woke the watcher: a k8s_-named container without
      // dockershim's type label (so not in the watcher's view) is created until one does.
      await waitFor('the event stream', async () => {
        await docker('rm', '-f', 'k8s_probe_x_default_uid-probe_0').catch(() => '');
        await docker('create', '--name', 'k8s_probe_x_default_uid-probe_0', d().images.busybox, '/bin/true');
        return watcher.wakeups > 0 ? true : undefined;
      }, { timeoutMs: 20_000 });
      await docker('rm', '-f', 'k8s_probe_x_default_uid-probe_0');
      const polls = watcher.polls;
      await docker('kill', appId);
      const third = await runApp(sandboxId, 2);
      const restart = await waitFor('the restart event from an event-driven poll', async () => restarted(log)[0], { timeoutMs: 30_000 });
      expect(restart).toMatchObject({ podUid: 'uid-web', containerName: 'app', beforeId: appId, afterId: third });
      expect(watcher.polls).toBeGreaterThan(polls);
      appId = third;
    } finally {
      await watcher.stop();
    }
  }, 180_000);

  it('stop() removes the containers and ends dockerd', async () => {
    const h = d();
    await h.stop();
    expect(() => process.kill(h.pid, 0)).toThrow();
  }, 90_000);
});
