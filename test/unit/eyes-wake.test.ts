// The node watcher woken by runtime events, Docker event parsing, connection counts for GetNode,
// and the journal's closed-connection window (issue 11 items 1, 2 and 5).
import { describe, expect, it } from 'vitest';
import { parseDockerEvent } from '../../agent/runtime/docker-events.ts';
import { EventLog } from '../../agent/watch/event-log.ts';
import { JournalWatcher } from '../../agent/watch/journal-watcher.ts';
import { NodeWatcher } from '../../agent/watch/node-watcher.ts';
import { FakeClock, systemClock, type Clock } from '../../lib/clock.ts';
import { silentLogger } from '../../lib/logger.ts';
import { waitFor } from '../../lib/poll.ts';
import type { ContainerInfo } from '../../agent/runtime/types.ts';
import { STREAM_LIVE } from '../../agent/runtime/containerd-events.ts';

const quietReader = { listContainers: async () => [], listPodSandboxes: async () => [], containerStatus: async () => { throw new Error('none'); } };

describe('docker events', () => {
  it('keeps the create/start/die/destroy of k8s_ containers only', () => {
    const msg = (o: object) => JSON.stringify({ Type: 'container', Action: 'die', Actor: { ID: 'abc', Attributes: { name: 'k8s_app_web_default_u_0', exitCode: '137' } }, timeNano: 1_700_000_000_000_000_000, ...o });
    expect(parseDockerEvent(msg({}))).toEqual({ action: 'die', id: 'abc', name: 'k8s_app_web_default_u_0', timeNs: BigInt(Math.trunc(1_700_000_000_000_000_000)) });
    expect(parseDockerEvent(msg({ Action: 'exec_start: sh' }))).toBeUndefined();
    expect(parseDockerEvent(msg({ Type: 'network' }))).toBeUndefined();
    expect(parseDockerEvent(msg({ Actor: { ID: 'x', Attributes: { name: 'registry' } } }))).toBeUndefined();
    expect(parseDockerEvent('{not json')).toBeUndefined();
  });
});

/** The system clock, recording every sleep the watcher's poll loop asks for (the stream's retry sleeps are not polled here). */
function recordingClock(): Clock & { sleeps: number[] } {
  const sleeps: number[] = [];
  return { sleeps, now: () => systemClock.now(), sleep: (ms, signal) => { sleeps.push(ms); return systemClock.sleep(ms, signal); } };
}

describe('NodeWatcher woken by runtime events', () => {
  it('polls at once on an event, falls back to polling when the stream fails, and opens it again', async () => {
    let push: (() => void) | undefined;
    let opened = 0;
    const clock = new FakeClock(0);
    const w = new NodeWatcher({
      reader: quietReader, skipFile: async () => undefined, kubelet: async () => ({ active: true, mainPid: 1 }), log: new EventLog(10), clock, intervalMs: 3_600_000, logger: silentLogger(),
      wakeRetryMs: 1_000,
      wake: async function* (signal) {
        opened++;
        if (opened === 1) throw new Error('dockerd restarting');
        while (!signal.aborted) {
          await new Promise<void>((resolve) => { push = resolve; signal.addEventListener('abort', () => resolve(), { once: true }); });
          if (!signal.aborted) yield 'event';
        }
      },
    });
    w.start();
    await waitFor('first poll', async () => (w.polls >= 1 ? true : undefined), { timeoutMs: 2_000 });
    // the failed stream is opened again after wakeRetryMs
    await waitFor('stream open', async () => { clock.advance(1_000); return push ? true : undefined; }, { timeoutMs: 2_000 });
    const before = w.polls;
    push!();
    await waitFor('a woken poll', async () => (w.polls > before ? true : undefined), { timeoutMs: 2_000 });
    expect(w.wakeups).toBe(1);
    expect(opened).toBe(2);
    await w.stop();
  });

  it('after a wake that shows no change yet, polls again at the follow-up delays until it does (containerd records an exit in CRI after the event)', async () => {
    let push: (() => void) | undefined;
    let state: 'running' | 'exited' = 'running';
    let listsAfterWake = -1;
    const app = (): ContainerInfo => ({ id: 'c1', podSandboxId: 's1', name: 'app', attempt: 0, state, createdAtNs: 1n, labels: { 'io.kubernetes.pod.uid': 'u1', 'io.kubernetes.container.name': 'app' }, annotations: {}, image: 'busybox', imageRef: 'sha256:1' });
    const reader = {
      listContainers: async () => {
        // The runtime shows the exit only on the third list after the event.
        if (listsAfterWake >= 0 && ++listsAfterWake >= 3) state = 'exited';
        return [app()];
      },
      listPodSandboxes: async () => [],
      containerStatus: async () => { throw new Error('none'); },
    };
    const log = new EventLog(10);
    const clock = recordingClock();
    const w = new NodeWatcher({
      reader, skipFile: async () => undefined, kubelet: async () => ({ active: true, mainPid: 1 }), log, clock, intervalMs: 3_600_000, logger: silentLogger(),
      wakeFollowUpMs: [5, 6, 7, 8, 9],
      wake: async function* (signal) {
        while (!signal.aborted) {
          await new Promise<void>((resolve) => { push = resolve; signal.addEventListener('abort', () => resolve(), { once: true }); });
          if (!signal.aborted) yield 'event';
        }
      },
    });
    w.start();
    await waitFor('stream open', async () => (push && w.polls >= 1 ? true : undefined), { timeoutMs: 2_000 });
    listsAfterWake = 0;
    const mark = clock.sleeps.length;
    push!();
    const died = await waitFor('CONTAINER_DIED', async () => log.since(0).find((e) => e.kind === 'CONTAINER_DIED'), { timeoutMs: 5_000 });
    expect(died).toMatchObject({ beforeId: 'c1', containerName: 'app' });
    // The chase stopped at the change: the woken poll, two follow-ups, then the hour-long interval.
    await waitFor('the interval sleep', async () => (clock.sleeps.slice(mark).includes(3_600_000) ? true : undefined), { timeoutMs: 5_000 });
    expect(clock.sleeps.slice(mark)).toEqual([5, 6, 3_600_000]);
    expect(w.polls).toBe(1 + 3);
    await w.stop();
  });

  it('a wake whose change never shows polls once per follow-up delay, then waits for the interval', async () => {
    let push: (() => void) | undefined;
    const clock = recordingClock();
    const w = new NodeWatcher({
      reader: quietReader, skipFile: async () => undefined, kubelet: async () => ({ active: true, mainPid: 1 }), log: new EventLog(10), clock, intervalMs: 3_600_000, logger: silentLogger(),
      wakeFollowUpMs: [5, 6, 7],
      wake: async function* (signal) {
        while (!signal.aborted) {
          await new Promise<void>((resolve) => { push = resolve; signal.addEventListener('abort', () => resolve(), { once: true }); });
          if (!signal.aborted) yield 'event';
        }
      },
    });
    w.start();
    await waitFor('stream open', async () => (push && w.polls >= 1 ? true : undefined), { timeoutMs: 2_000 });
    const mark = clock.sleeps.length;
    push!();
    await waitFor('the interval sleep', async () => (clock.sleeps.slice(mark).includes(3_600_000) ? true : undefined), { timeoutMs: 5_000 });
    expect(clock.sleeps.slice(mark)).toEqual([5, 6, 7, 3_600_000]);
    expect(w.polls).toBe(1 + 1 + 3);
    await w.stop();
  });

  it('skips the runtime list while the stream is live and nothing came; lists on an event, at fullListMs, and on every tick once the stream failed', async () => {
    let lists = 0;
    let push: ((item: unknown) => void) | undefined;
    let fail: ((err: Error) => void) | undefined;
    const reader = { ...quietReader, listContainers: async () => { lists++; return []; } };
    let now = 0;
    const clock: Clock = { now: () => now, sleep: (ms, signal) => systemClock.sleep(Math.min(ms, 5), signal) };
    const w = new NodeWatcher({
      reader, skipFile: async () => undefined, kubelet: async () => ({ active: true, mainPid: 1 }), log: new EventLog(10), clock, intervalMs: 1_000, logger: silentLogger(),
      wakeFollowUpMs: [], wakeRetryMs: 3_600_000, eventsCoverRuntime: { fullListMs: 10_000 },
      wake: async function* (signal) {
        while (!signal.aborted) {
          const item = await new Promise<unknown>((resolve, reject) => { push = resolve; fail = reject; signal.addEventListener('abort', () => resolve(undefined), { once: true }); });
          if (!signal.aborted) yield item;
        }
      },
    });
    w.start();
    await waitFor('stream open', async () => (push && w.polls >= 1 ? true : undefined), { timeoutMs: 2_000 });
    push!(STREAM_LIVE);
    await waitFor('a skipped tick', async () => (w.skippedLists >= 3 ? true : undefined), { timeoutMs: 5_000 });
    const a = lists;
    push!('event');
    await waitFor('the list an event asks for', async () => (lists > a ? true : undefined), { timeoutMs: 5_000 });
    const b = lists;
    now += 10_000;
    await waitFor('the list at fullListMs', async () => (lists > b ? true : undefined), { timeoutMs: 5_000 });
    fail!(new Error('containerd restarting'));
    const skipped = w.skippedLists;
    const c = lists;
    await waitFor('lists on every tick again', async () => (lists >= c + 3 ? true : undefined), { timeoutMs: 5_000 });
    expect(w.skippedLists).toBe(skipped);
    await w.stop();
  });

  it('keeps the kubelet\'s connection counts for GetNode, and forgets them when the kubelet is down', async () => {
    let active = true;
    const w = new NodeWatcher({
      reader: quietReader, skipFile: async () => undefined, kubelet: async () => ({ active, mainPid: active ? 7 : 0 }), log: new EventLog(10), clock: new FakeClock(0), logger: silentLogger(),
      connections: async () => ({ '10.0.0.1:6443': 10 }),
    });
    await w.pollOnce();
    expect(w.connectionCounts).toEqual({ '10.0.0.1:6443': 10 });
    active = false;
    await w.pollOnce();
    expect(w.connectionCounts).toBeUndefined();
  });
});

describe('closed-connection window', () => {
  it('counts the lines of the last minutes, the current one included', () => {
    const T0 = 1_796_000_040_000;
    const j = new JournalWatcher({ journal: { read: async () => [], follow: () => ({ async *[Symbol.asyncIterator]() {} }) }, unit: 'kubelet.service', log: new EventLog(10), clock: systemClock, logger: silentLogger() });
    const line = (n: number, atMs: number) => j.accept({ cursor: `c${n}`, realtimeUsec: BigInt(atMs) * 1000n, message: 'http2: use of closed network connection', fields: {} });
    line(1, T0 - 10 * 60_000); // outside a 5-minute window
    line(2, T0 + 1_000);
    line(3, T0 + 2_000);
    line(4, T0 + 61_000);
    expect(j.connectionErrors(T0 + 90_000, 5)).toEqual({ windowMinutes: 5, count: 3, minutesWithErrors: 2, lastAtUnixMs: T0 + 61_000 });
    expect(j.connectionErrors(T0 + 90_000 + 10 * 60_000, 5).count).toBe(0);
  });
});

describe('NodeWatcher.stop()', () => {
  it('ends a watcher stopped while a poll is in flight, without waiting out its interval', async () => {
    let release: (() => void) | undefined;
    let listing = 0;
    const clock = new FakeClock(0);
    const w = new NodeWatcher({
      reader: { ...quietReader, listContainers: async () => { listing++; await new Promise<void>((resolve) => { release = resolve; }); return []; } },
      skipFile: async () => undefined, kubelet: async () => ({ active: true, mainPid: 1 }), log: new EventLog(10), clock, intervalMs: 3_600_000, logger: silentLogger(),
    });
    w.start();
    await waitFor('a poll in flight', async () => (listing === 1 && release ? true : undefined), { timeoutMs: 2_000 });
    const stopped = w.stop().then(() => 'stopped' as const);
    release!();
    // The fake clock never moves: before the fix, the loop went on to sleep its hour-long interval.
    const deadline = new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 2_000).unref());
    expect(await Promise.race([stopped, deadline])).toBe('stopped');
    expect(w.polls).toBe(1);
  });
});
