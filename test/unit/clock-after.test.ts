/**
 * The Clock's cancellable timer (`after`) and the wake-able sleep built on it, which replaced a
 * sleep raced with an AbortController in the engine's round wait, the cache's per-node waits and
 * the connection look: each must fire once, never after a cancel or a wake, fall back to
 * sleep(ms, signal) for a clock without `after` (FakeClock), and leave no waiter behind.
 */
import { describe, expect, it } from 'vitest';
import { after, FakeClock, systemClock, wakeableSleep, type Clock } from '../../lib/clock.ts';
import { lookConnections } from '../../coordinator/eyes/step-connections.ts';
import { openClusterCache } from '../../coordinator/cluster-cache.ts';
import { silentLogger } from '../../lib/logger.ts';
import type { AgentPort, NodeInfo } from '../../coordinator/fleet/port.ts';
import { world } from '../../bench/coordinator-world.ts';

const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

describe('after(clock, ms, fn)', () => {
  it('on the system clock: fires once after ms; a cancel before stops it', async () => {
    const fired: string[] = [];
    const t0 = performance.now();
    const done = new Promise<void>((resolve) => after(systemClock, 20, () => { fired.push('a'); resolve(); }));
    const cancel = after(systemClock, 5, () => fired.push('cancelled'));
    cancel();
    await done;
    expect(performance.now() - t0).toBeGreaterThanOrEqual(19);
    // the cancelled one was due well before: it would have fired by now
    expect(fired).toEqual(['a']);
  });

  it('on a clock without after (FakeClock): through sleep, fires on advance, not after a cancel', async () => {
    const clock = new FakeClock(0);
    expect((clock as Clock).after).toBeUndefined();
    const fired: number[] = [];
    after(clock, 100, () => fired.push(clock.now()));
    const cancel = after(clock, 50, () => fired.push(-1));
    cancel();
    clock.advance(60);
    await settle();
    expect(fired).toEqual([]);
    clock.advance(40);
    await settle();
    expect(fired).toEqual([100]);
    clock.advance(1_000);
    await settle();
    expect(fired).toEqual([100]);
  });
});

describe('wakeableSleep', () => {
  it('ends at ms, or at once on wake; a wake after the end changes nothing', async () => {
    const clock = new FakeClock(0);
    const a = wakeableSleep(clock, 100);
    let aDone = false;
    void a.done.then(() => { aDone = true; });
    clock.advance(99);
    await settle();
    expect(aDone).toBe(false);
    clock.advance(1);
    await settle();
    expect(aDone).toBe(true);
    a.wake();

    const b = wakeableSleep(clock, 1_000_000);
    let bDone = false;
    void b.done.then(() => { bDone = true; });
    b.wake();
    await settle();
    expect(bDone).toBe(true);
    // woken: its timer is cancelled, nothing is left waiting on the clock
    expect((clock as unknown as { sleepers: unknown[] }).sleepers).toHaveLength(0);
  });
});

describe('lookConnections with a cancellable timeout', () => {
  const info = { apiserverConnections: [{ endpoint: '10.0.0.1:6443', established: 3 }], connectionErrors: { windowMinutes: 5, count: 1, minutesWithErrors: 1, lastAtUnixMs: 0 } } as unknown as NodeInfo;
  const agentAnswering = (answer: () => Promise<NodeInfo>): AgentPort => ({ getNode: answer } as unknown as AgentPort);

  it('the answer, the timer cancelled; an error or no counts is undefined', async () => {
    const clock = new FakeClock(0);
    expect(await lookConnections(agentAnswering(async () => info), clock, 5_000)).toEqual({ counts: { '10.0.0.1:6443': 3 }, closedConnectionErrors: 1 });
    expect((clock as unknown as { sleepers: unknown[] }).sleepers).toHaveLength(0);
    expect(await lookConnections(agentAnswering(async () => { throw new Error('unreachable'); }), clock, 5_000)).toBeUndefined();
    expect(await lookConnections(agentAnswering(async () => ({ ...info, apiserverConnections: [] })), clock, 5_000)).toBeUndefined();
    expect(await lookConnections(undefined, clock, 5_000)).toBeUndefined();
  });

  it('an agent that never answers: undefined once the timeout passes, not before', async () => {
    const clock = new FakeClock(0);
    let result: unknown = 'pending';
    void lookConnections(agentAnswering(() => new Promise<NodeInfo>(() => undefined)), clock, 5_000).then((r) => { result = r; });
    await settle();
    clock.advance(4_999);
    await settle();
    expect(result).toBe('pending');
    clock.advance(1);
    await settle();
    expect(result).toBeUndefined();
  });

  it('on the system clock with an agent that answers late: the timeout wins', async () => {
    const slow = agentAnswering(() => new Promise<NodeInfo>((resolve) => setTimeout(() => resolve(info), 200)));
    const t0 = performance.now();
    expect(await lookConnections(slow, systemClock, 10)).toBeUndefined();
    expect(performance.now() - t0).toBeLessThan(150);
  });
});

describe('the cache view waits (changed)', () => {
  it('end on the node event, at the timeout, or on the signal, and leave no waiter', async () => {
    const clock: Clock = new FakeClock(0);
    const w = world(['a', 'b'], 1);
    const view = await openClusterCache({ nodes: w.nodes, pods: w.pods }, { clock, logger: silentLogger() });
    try {
      const ended: string[] = [];
      void view.changed('a', 60_000).then(() => ended.push('a event'));
      void view.changed('b', 1_000).then(() => ended.push('b timeout'));
      const ac = new AbortController();
      void view.changed('b', 60_000, ac.signal).then(() => ended.push('b signal'));
      const cur = w.nodes.get('', 'a')!;
      w.nodes.put({ ...cur, status: { ...cur.status, nodeInfo: { ...cur.status!.nodeInfo!, kubeletVersion: 'v1.17.17' } } });
      await settle();
      expect(ended).toEqual(['a event']);
      (clock as FakeClock).advance(1_000);
      await settle();
      expect(ended).toEqual(['a event', 'b timeout']);
      ac.abort();
      await settle();
      expect(ended).toEqual(['a event', 'b timeout', 'b signal']);
      // an already aborted signal ends the wait at once
      const gone = new AbortController();
      gone.abort();
      await view.changed('a', 60_000, gone.signal);
      // every wait ended: its timer is gone from the clock
      expect((clock as unknown as { sleepers: unknown[] }).sleepers).toHaveLength(0);
    } finally {
      await view.stop();
      w.nodes.close();
      w.pods.close();
    }
  });
});
