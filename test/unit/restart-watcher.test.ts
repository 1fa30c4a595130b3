import { describe, expect, it } from 'vitest';
import { RestartWatcher, type WatchedEvent } from '../../agent/watch/restart-watcher.ts';
import type { Clock } from '../../lib/clock.ts';
import { CriError } from '../../agent/runtime/cri.ts';
import type { ContainerInfo, ContainerStatusInfo, RuntimeReader } from '../../agent/runtime/types.ts';
import { silentLogger } from '../../lib/logger.ts';

function container(id: string, attempt: number, state: ContainerInfo['state'] = 'running'): ContainerInfo {
  return {
    id,
    podSandboxId: 'sb',
    name: 'app',
    attempt,
    state,
    createdAtNs: BigInt(attempt + 1) * 1_000n,
    labels: { 'io.kubernetes.pod.uid': 'uid-1', 'io.kubernetes.container.name': 'app' },
    annotations: { 'io.kubernetes.container.restartCount': String(attempt) },
    image: 'busybox',
    imageRef: 'sha256:x',
  };
}

function status(c: ContainerInfo): ContainerStatusInfo {
  return { ...c, startedAtNs: 5n, finishedAtNs: c.state === 'exited' ? 9n : 0n, exitCode: c.state === 'exited' ? 137 : 0, reason: c.state === 'exited' ? 'Error' : '', message: '', restartCount: c.attempt };
}

/** A reader that serves scripted snapshots; a snapshot of Error makes that poll fail. */
function scriptedReader(script: Array<ContainerInfo[] | Error>): Pick<RuntimeReader, 'listContainers' | 'containerStatus'> & { calls: number } {
  let current: ContainerInfo[] = [];
  const reader = {
    calls: 0,
    async listContainers() {
      const step = script[Math.min(reader.calls, script.length - 1)];
      reader.calls += 1;
      if (step instanceof Error) throw step;
      current = step ?? [];
      return current;
    },
    async containerStatus(id: string) {
      const c = current.find((x) => x.id === id);
      if (c === undefined) throw new CriError('CRI_NOT_FOUND', `no ${id}`);
      return status(c);
    },
  };
  return reader;
}

/** A clock whose sleeps end only when the test advances it. */
function manualClock(): Clock & { advance(): Promise<void>; sleeping(): number } {
  let now = 1_000;
  let waiters: Array<() => void> = [];
  return {
    now: () => now,
    sleep: (_ms, signal) =>
      new Promise<void>((resolve) => {
        const done = () => resolve();
        waiters.push(done);
        signal?.addEventListener('abort', done, { once: true });
      }),
    async advance() {
      now += 1_000;
      const w = waiters;
      waiters = [];
      for (const f of w) f();
      await new Promise((r) => setTimeout(r, 0));
    },
    sleeping: () => waiters.length,
  };
}

async function until(cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 2_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 1));
  }
}

describe('RestartWatcher', () => {
  it('takes a baseline first, then reports one restart with the previous exit', async () => {
    const reader = scriptedReader([[container('a', 0)], [container('a', 0, 'exited'), container('b', 1)]]);
    const events: WatchedEvent[] = [];
    const w = new RestartWatcher({ reader, clock: manualClock(), intervalMs: 1_000, logger: silentLogger(), onEvent: (e) => events.push(e) });
    expect(await w.pollOnce()).toEqual([]);
    const got = await w.pollOnce();
    expect(got).toEqual(events);
    expect(events.map((e) => e.kind)).toEqual(['exited', 'restarted']);
    const r = events[1];
    expect(r?.kind).toBe('restarted');
    expect(r?.exit).toEqual({ startedAtNs: 5n, finishedAtNs: 9n, exitCode: 137, reason: 'Error', restartCount: 0 });
    expect(r?.observedAtMs).toBe(1_000);
    expect(w.stats()).toEqual({ polls: 2, failedPolls: 0, restarts: 1, baseline: true });
  });

  it('marks the exit unknown with the error code when the old container is already gone', async () => {
    const reader = scriptedReader([[container('a', 0)], [container('b', 1)]]);
    const w = new RestartWatcher({ reader, clock: manualClock(), intervalMs: 1_000, logger: silentLogger(), onEvent: () => undefined });
    await w.pollOnce();
    const [r] = await w.pollOnce();
    expect(r?.kind).toBe('restarted');
    expect(r?.exit).toBeUndefined();
    expect(r?.exitUnknown).toBe('CRI_NOT_FOUND');
  });

  it('keeps polling through failures and diffs against the last good snapshot', async () => {
    const reader = scriptedReader([[container('a', 0)], new CriError('CRI_UNAVAILABLE', 'down'), [container('a', 0, 'exited'), container('b', 1)]]);
    const clock = manualClock();
    const events: WatchedEvent[] = [];
    const errors: unknown[] = [];
    const w = new RestartWatcher({ reader, clock, intervalMs: 1_000, logger: silentLogger(), onEvent: (e) => events.push(e), onPollError: (e) => errors.push(e) });
    w.start();
    await until(() => reader.calls === 1 && clock.sleeping() === 1);
    await clock.advance();
    await until(() => reader.calls === 2 && clock.sleeping() === 1);
    expect(errors).toHaveLength(1);
    expect(events).toEqual([]);
    await clock.advance();
    await until(() => reader.calls === 3 && clock.sleeping() === 1);
    await w.stop();
    expect(events.filter((e) => e.kind === 'restarted')).toHaveLength(1);
    expect(w.stats()).toMatchObject({ polls: 2, failedPolls: 1, restarts: 1 });
    const callsAtStop = reader.calls;
    await clock.advance();
    expect(reader.calls).toBe(callsAtStop);
  });

  it('refuses a non-positive interval', () => {
    expect(() => new RestartWatcher({ reader: scriptedReader([[]]), clock: manualClock(), intervalMs: 0, logger: silentLogger(), onEvent: () => undefined })).toThrow(RangeError);
  });
});
