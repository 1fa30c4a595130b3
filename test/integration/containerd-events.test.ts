/**
 * containerd's own event service against a real private containerd 1.6 (own root, state, socket):
 * the envelopes kip's proto subset decodes (topics, container ids, exit status) for a container's
 * life, and the node watcher woken by them. The watcher polls once an HOUR here, so only the event
 * wake can make a killed container's CONTAINER_DIED and the kubelet-style restart's
 * CONTAINER_RESTARTED reach the event log (what Watch streams) within the deadline.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerdEvents, STREAM_LIVE, type ContainerdEvent } from '../../agent/runtime/containerd-events.ts';
import { createCriClient, type CriClient } from '../../agent/runtime/cri.ts';
import type { PodSandboxSpec } from '../../agent/runtime/types.ts';
import { EventLog } from '../../agent/watch/event-log.ts';
import { NodeWatcher } from '../../agent/watch/node-watcher.ts';
import { systemClock } from '../../lib/clock.ts';
import { execaExec } from '../../lib/exec.ts';
import { silentLogger } from '../../lib/logger.ts';
import { waitFor } from '../../lib/poll.ts';
import { CONTAINERD_NAMESPACE, startContainerd, type ContainerdHandle } from '../../scripts/containerd/containerd.ts';

let ctd: ContainerdHandle | undefined;
let cri: CriClient | undefined;
let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kip-ctd-events-'));
  ctd = await startContainerd({ dir: join(dir, 'containerd') });
  cri = createCriClient({ address: ctd.address, timeoutMs: 20_000 });
}, 120_000);

afterAll(async () => {
  cri?.close();
  await ctd?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 120_000);

const c = (): CriClient => {
  if (!cri || !ctd) throw new Error('containerd did not start');
  return cri;
};

const pod = (uid: string): PodSandboxSpec => ({ name: `web-${uid}`, uid, namespace: 'default', labels: { 'io.kubernetes.pod.name': `web-${uid}`, 'io.kubernetes.pod.namespace': 'default', 'io.kubernetes.pod.uid': uid } });

async function runApp(p: PodSandboxSpec, sandboxId: string, attempt: number): Promise<string> {
  const id = await c().createContainer(sandboxId, {
    name: 'app', attempt, image: ctd!.images.busybox, command: ['/bin/sleep', '3600'],
    labels: { ...p.labels, 'io.kubernetes.container.name': 'app' }, annotations: { 'io.kubernetes.container.restartCount': String(attempt) },
  }, p);
  await c().startContainer(id);
  return id;
}

/** The container's init process, killed from outside as a crash or the OOM killer would. */
async function killInit(id: string): Promise<void> {
  const r = await execaExec('ctr', ['-a', ctd!.socket, '-n', CONTAINERD_NAMESPACE, 'tasks', 'ls'], { timeoutMs: 20_000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith(id));
  const pid = Number(line?.trim().split(/\s+/)[1]);
  if (!(pid > 0)) throw new Error(`no task pid for ${id} in: ${r.stdout}`);
  process.kill(pid, 'SIGKILL');
}

describe('containerd events (real containerd 1.6)', () => {
  it('streams create, start, exit (with the status) and delete of a CRI container in k8s.io', async () => {
    const abort = new AbortController();
    const seen: ContainerdEvent[] = [];
    let live = false;
    const reading = (async () => {
      for await (const e of containerdEvents(ctd!.address, abort.signal)) {
        if (e === STREAM_LIVE) live = true;
        else seen.push(e);
      }
    })();
    try {
      // The agent's own probe (Events.Publish in its namespace) came back: the subscription is registered.
      await waitFor('STREAM_LIVE', async () => (live ? true : undefined), { timeoutMs: 30_000, intervalMs: 20 });
      const p = pod('ev-1');
      const sb = await c().runPodSandbox(p);
      await waitFor('the sandbox\'s events', async () => (seen.some((e) => e.containerId === sb && e.topic === '/tasks/start') ? true : undefined), { timeoutMs: 30_000, intervalMs: 50 });
      const id = await runApp(p, sb, 0);
      await killInit(id);
      await waitFor('/tasks/exit', async () => seen.find((e) => e.containerId === id && e.topic === '/tasks/exit'), { timeoutMs: 30_000, intervalMs: 50 });
      await waitFor('the CRI exit', async () => ((await c().containerStatus(id)).state === 'exited' ? true : undefined), { timeoutMs: 30_000, intervalMs: 50 });
      await c().removeContainer(id);
      await waitFor('/containers/delete', async () => seen.find((e) => e.containerId === id && e.topic === '/containers/delete'), { timeoutMs: 30_000, intervalMs: 50 });
      const mine = seen.filter((e) => e.containerId === id);
      expect(mine.map((e) => e.topic)).toEqual(['/containers/create', '/tasks/start', '/tasks/exit', '/tasks/delete', '/containers/delete']);
      expect(mine.find((e) => e.topic === '/tasks/exit')?.exitStatus).toBe(137);
      for (const e of seen) {
        expect(e.namespace).toBe('k8s.io');
        expect(e.timeNs).toBeGreaterThan(1_700_000_000n * 1_000_000_000n);
      }
      await c().stopPodSandbox(sb);
      await c().removePodSandbox(sb);
    } finally {
      abort.abort();
      await reading;
    }
  }, 120_000);

  it('wakes a node watcher that polls once an hour: a killed container is CONTAINER_DIED, then CONTAINER_RESTARTED, within seconds', async () => {
    const log = new EventLog(1_000);
    const watcher = new NodeWatcher({
      reader: c(),
      skipFile: async () => undefined,
      kubelet: async () => ({ active: true, mainPid: 1 }),
      log,
      clock: systemClock,
      intervalMs: 3_600_000,
      wake: (signal) => containerdEvents(ctd!.address, signal),
      wakeRetryMs: 200,
      logger: silentLogger(),
    });
    watcher.start();
    try {
      await waitFor('the baseline poll', async () => (watcher.polls >= 1 ? true : undefined), { timeoutMs: 30_000 });
      const p = pod('ev-2');
      const sb = await c().runPodSandbox(p);
      // The stream is live once the sandbox's own events woke the watcher.
      await waitFor('a wake from the sandbox', async () => (watcher.wakeups > 0 ? true : undefined), { timeoutMs: 30_000, intervalMs: 50 });
      const first = await runApp(p, sb, 0);
      await waitFor('CONTAINER_ADDED', async () => log.since(0).find((e) => e.kind === 'CONTAINER_ADDED' && e.afterId === first), { timeoutMs: 30_000, intervalMs: 20 });

      const killedAt = Date.now();
      await killInit(first);
      const died = await waitFor('CONTAINER_DIED', async () => log.since(0).find((e) => e.kind === 'CONTAINER_DIED' && e.beforeId === first), { timeoutMs: 30_000, intervalMs: 20 });
      expect(died).toMatchObject({ podUid: 'ev-2', containerName: 'app', exitCode: 137 });
      const diedMs = died.observedAtMs - killedAt;

      // The kubelet's answer: attempt 1 in the same sandbox.
      const second = await runApp(p, sb, 1);
      const restarted = await waitFor('CONTAINER_RESTARTED', async () => log.since(0).find((e) => e.kind === 'CONTAINER_RESTARTED' && e.afterId === second), { timeoutMs: 30_000, intervalMs: 20 });
      expect(restarted).toMatchObject({ podUid: 'ev-2', containerName: 'app', beforeId: first, afterId: second, restarts: 1 });
      process.stdout.write(`containerd events, poll 1 h: died on the log ${diedMs} ms after the kill; ${watcher.polls} polls, ${watcher.wakeups} wakes\n`);
      // With an hour between ticks every poll after the baseline came from a wake or its follow-ups.
      expect(watcher.wakeups).toBeGreaterThan(0);

      await c().stopContainer(second, 0);
      await c().removeContainer(first);
      await c().removeContainer(second);
      await c().stopPodSandbox(sb);
      await c().removePodSandbox(sb);
      await waitFor('POD_GONE', async () => log.since(0).find((e) => e.kind === 'POD_GONE' && e.podUid === 'ev-2'), { timeoutMs: 30_000, intervalMs: 20 });
    } finally {
      await watcher.stop();
    }
  }, 180_000);

  it('with the stream live, ticks skip the runtime list until an event; a killed container is still CONTAINER_DIED at once', async () => {
    const log = new EventLog(1_000);
    let lists = 0;
    const reader = { listContainers: () => { lists++; return c().listContainers(); }, listPodSandboxes: () => c().listPodSandboxes(), containerStatus: (id: string) => c().containerStatus(id) };
    const watcher = new NodeWatcher({
      reader, skipFile: async () => undefined, kubelet: async () => ({ active: true, mainPid: 1 }), log, clock: systemClock,
      intervalMs: 100, wake: (signal) => containerdEvents(ctd!.address, signal), wakeRetryMs: 200,
      // An hour between full lists: only events can make this test's lists happen.
      eventsCoverRuntime: { fullListMs: 3_600_000 },
      logger: silentLogger(),
    });
    watcher.start();
    try {
      const p = pod('ev-3');
      const sb = await c().runPodSandbox(p);
      const first = await runApp(p, sb, 0);
      await waitFor('CONTAINER_ADDED', async () => log.since(0).find((e) => e.kind === 'CONTAINER_ADDED' && e.afterId === first), { timeoutMs: 30_000, intervalMs: 20 });
      await waitFor('ticks that skip the list', async () => (watcher.skippedLists >= 10 ? true : undefined), { timeoutMs: 30_000, intervalMs: 20 });
      const listsBefore = lists;
      const pollsBefore = watcher.polls;
      await waitFor('more skipped ticks', async () => (watcher.polls >= pollsBefore + 5 ? true : undefined), { timeoutMs: 30_000, intervalMs: 20 });
      // Five ticks, no event: no list.
      expect(lists).toBe(listsBefore);
      const killedAt = Date.now();
      await killInit(first);
      const died = await waitFor('CONTAINER_DIED', async () => log.since(0).find((e) => e.kind === 'CONTAINER_DIED' && e.beforeId === first), { timeoutMs: 30_000, intervalMs: 20 });
      expect(died).toMatchObject({ podUid: 'ev-3', exitCode: 137 });
      process.stdout.write(`containerd events, lists skipped while live: died on the log ${died.observedAtMs - killedAt} ms after the kill; ${watcher.skippedLists} of ${watcher.polls} ticks skipped the list\n`);
      await c().removeContainer(first);
      await c().stopPodSandbox(sb);
      await c().removePodSandbox(sb);
    } finally {
      await watcher.stop();
    }
  }, 180_000);
});
