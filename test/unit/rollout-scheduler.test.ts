import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decide, initialState, validateConfig, interleaveByZone, markFailed, markStarted, markSucceeded, markSwapped, pause, resume, type SchedulerConfig, type SchedulerState,
} from '../../coordinator/rollout/scheduler.ts';

const nodesArb = fc.uniqueArray(fc.record({ name: fc.stringMatching(/^[a-z][a-z0-9-]{0,6}$/), zone: fc.constantFrom('', 'z-a', 'z-b', 'z-c') }), { selector: (n) => n.name, minLength: 1, maxLength: 25 });
const configArb = fc.record({ maxConcurrency: fc.integer({ min: 1, max: 6 }), maxUnavailable: fc.integer({ min: 1, max: 6 }), nodeTimeoutMs: fc.constant(1_000_000) });

interface Trace {
  readonly starts: string[];
  readonly maxInFlight: number;
  readonly maxUnavailableSeen: number;
  readonly finished: boolean;
  readonly startsWhilePaused: number;
}

/** A seeded xorshift32 source of numbers in [0, 1). */
function xorshift(seed: number): () => number {
  let rnd = seed >>> 0 || 1;
  return () => {
    rnd ^= rnd << 13; rnd >>>= 0; rnd ^= rnd >>> 17; rnd ^= rnd << 5; rnd >>>= 0;
    return rnd / 2 ** 32;
  };
}

/**
 * Drives the scheduler with a seeded world: each tick, some in-flight nodes finish, a few foreign
 * nodes flap NotReady, and a pause may arrive (lifted a few ticks later).
 */
function simulate(s0: SchedulerState, c: SchedulerConfig, seed: number, options: { pauseAt?: number; failAt?: number; flap?: boolean } = {}): Trace {
  let s = s0;
  const next = xorshift(seed);
  const starts: string[] = [];
  let maxInFlight = 0;
  let maxUnavailableSeen = 0;
  let startsWhilePaused = 0;
  let pausedUntil = -1;
  let failed = false;
  for (let tick = 0; tick < 2_000; tick++) {
    const foreign = options.flap && next() < 0.2 && c.maxUnavailable > 1 ? new Set(['foreign-node']) : new Set<string>();
    const wasPaused = s.paused !== undefined;
    const d = decide(s, { notReady: foreign }, tick, c);
    if (d.pause) s = pause(s, d.pause);
    if (wasPaused) startsWhilePaused += d.start.length;
    for (const n of d.start) {
      s = markStarted(s, n, tick);
      starts.push(n);
    }
    const inFlight = s.order.filter((n) => s.status.get(n) === 'in-flight');
    maxInFlight = Math.max(maxInFlight, inFlight.length);
    if (d.start.length > 0) maxUnavailableSeen = Math.max(maxUnavailableSeen, new Set([...foreign, ...inFlight]).size);
    if (d.finished) return { starts, maxInFlight, maxUnavailableSeen, finished: true, startsWhilePaused };
    for (const n of inFlight) {
      if (next() < 0.4) {
        if (options.failAt !== undefined && !failed && starts.length > options.failAt) {
          failed = true;
          s = markFailed(s, n, 'agent rolled back');
          pausedUntil = tick + 3;
        } else {
          s = markSucceeded(s, n);
        }
      }
    }
    if (options.pauseAt === tick) {
      s = pause(s, 'operator');
      pausedUntil = tick + 5;
    }
    if (s.paused && tick >= pausedUntil && pausedUntil >= 0) s = resume(s);
  }
  return { starts, maxInFlight, maxUnavailableSeen, finished: false, startsWhilePaused };
}

describe('rollout scheduler (property tests)', () => {
  it('never has more than --max-concurrency in flight, nor more than --max-unavailable unavailable, and starts every node exactly once', () => {
    fc.assert(fc.property(nodesArb, configArb, fc.integer({ min: 0, max: 3 }), fc.integer(), fc.boolean(), (nodes, c, canary, seed, flap) => {
      const t = simulate(initialState(nodes, { count: Math.min(canary, nodes.length) }), c, seed, { flap });
      expect(t.maxInFlight).toBeLessThanOrEqual(c.maxConcurrency);
      expect(t.maxUnavailableSeen).toBeLessThanOrEqual(c.maxUnavailable);
      expect(t.finished).toBe(true);
      expect([...t.starts].sort()).toEqual(nodes.map((n) => n.name).sort());
    }), { numRuns: 300 });
  });

  it('is deterministic: the same nodes in any input order give the same order and the same decisions', () => {
    fc.assert(fc.property(nodesArb, configArb, fc.integer(), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1 }), (nodes, c, seed, canary, shuffleSeed) => {
      const shuffled = [...nodes];
      let r = shuffleSeed;
      for (let i = shuffled.length - 1; i > 0; i--) {
        r = (r * 1103515245 + 12345) % 2147483648;
        const j = r % (i + 1);
        [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
      }
      const a = initialState(nodes, { count: canary });
      const b = initialState(shuffled, { count: canary });
      expect(b.order).toEqual(a.order);
      expect(simulate(b, c, seed).starts).toEqual(simulate(a, c, seed).starts);
    }), { numRuns: 200 });
  });

  it('runs canaries first, one at a time, and starts nothing else before they all succeeded', () => {
    fc.assert(fc.property(nodesArb, configArb, fc.integer({ min: 1, max: 3 }), fc.integer(), (nodes, c, count, seed) => {
      const s0 = initialState(nodes, { count });
      const canaries = s0.order.slice(0, Math.min(count, nodes.length));
      let s = s0;
      for (const canaryNode of canaries) {
        const d = decide(s, { notReady: new Set() }, 0, c);
        expect(d.start).toEqual([canaryNode]);
        s = markStarted(s, canaryNode, 0);
        expect(decide(s, { notReady: new Set() }, 0, c).start).toEqual([]);
        s = markSucceeded(s, canaryNode);
      }
      expect(simulate(s0, c, seed).starts.slice(0, canaries.length)).toEqual(canaries);
    }), { numRuns: 200 });
  });

  it('pause stops new work and keeps running work; resume goes on without starting a node twice', () => {
    fc.assert(fc.property(nodesArb, configArb, fc.integer({ min: 0, max: 20 }), fc.integer(), (nodes, c, pauseAt, seed) => {
      const t = simulate(initialState(nodes, { count: 0 }), c, seed, { pauseAt });
      expect(t.startsWhilePaused).toBe(0);
      expect(t.finished).toBe(true);
      expect(new Set(t.starts).size).toBe(t.starts.length);
    }), { numRuns: 200 });
    // running work is not cancelled: in-flight nodes can still succeed while paused
    let s = initialState([{ name: 'a', zone: '' }, { name: 'b', zone: '' }, { name: 'c', zone: '' }], { count: 0 });
    const c = { maxConcurrency: 2, maxUnavailable: 2, nodeTimeoutMs: 1e9 };
    for (const n of decide(s, { notReady: new Set() }, 0, c).start) s = markStarted(s, n, 0);
    s = pause(s, 'operator');
    expect(decide(s, { notReady: new Set() }, 1, c)).toMatchObject({ start: [], inFlight: 2 });
    s = markSucceeded(s, 'a');
    expect(decide(s, { notReady: new Set() }, 2, c)).toMatchObject({ start: [], inFlight: 1 });
    s = resume(s);
    expect(decide(s, { notReady: new Set() }, 3, c).start).toEqual(['c']);
  });

  it('a failed node pauses the run; resume retries it', () => {
    fc.assert(fc.property(nodesArb, configArb, fc.integer({ min: 0, max: 10 }), fc.integer(), (nodes, c, failAt, seed) => {
      const t = simulate(initialState(nodes, { count: 0 }), c, seed, { failAt });
      expect(t.startsWhilePaused).toBe(0);
      expect(t.finished).toBe(true);
    }), { numRuns: 200 });
  });
});

describe('rollout scheduler: a swapped node keeps its slot while its last look runs', () => {
  it('never more kubelet swaps in flight than --max-concurrency, nor unavailable than --max-unavailable; verifying nodes keep their slot; every node once', () => {
    fc.assert(fc.property(nodesArb, configArb, fc.integer({ min: 0, max: 3 }), fc.integer(), (nodes, c, canary, seed) => {
      let s = initialState(nodes, { count: Math.min(canary, nodes.length) });
      const next = xorshift(seed);
      const starts: string[] = [];
      let finished = false;
      for (let tick = 0; tick < 3_000 && !finished; tick++) {
        const d = decide(s, { notReady: new Set() }, tick, c);
        const verifying = s.order.filter((n) => s.status.get(n) === 'verifying');
        // a canary is not done while it verifies: nothing starts beside a verifying canary
        if (verifying.some((n) => s.canaries.has(n))) expect(d.start).toEqual([]);
        for (const n of d.start) {
          s = markStarted(s, n, tick);
          starts.push(n);
        }
        const inFlight = s.order.filter((n) => s.status.get(n) === 'in-flight');
        const verifyingNow = s.order.filter((n) => s.status.get(n) === 'verifying');
        expect(inFlight.length + verifyingNow.length).toBeLessThanOrEqual(c.maxConcurrency);
        expect(inFlight.length).toBeLessThanOrEqual(c.maxUnavailable);
        expect(d.verifying).toBe(verifying.length);
        // verifying nodes keep the step open
        if (verifying.length > 0) expect(d.finished).toBe(false);
        finished = d.finished;
        for (const n of verifying) if (next() < 0.3) s = markSucceeded(s, n);
        for (const n of inFlight) if (next() < 0.4) s = markSwapped(s, n);
      }
      expect(finished).toBe(true);
      expect([...starts].sort()).toEqual(nodes.map((n) => n.name).sort());
    }), { numRuns: 300 });
  });

  it('the slot goes to the next node only after the look; a failed look pauses the run; pause waits for verifying nodes; the node timeout covers the look', () => {
    const c = { maxConcurrency: 1, maxUnavailable: 1, nodeTimeoutMs: 1_000 };
    // --max-concurrency 1: nothing starts beside a verifying node
    let u = initialState([{ name: 'a', zone: '' }, { name: 'b', zone: '' }], { count: 0 });
    u = markSwapped(markStarted(u, 'a', 0), 'a');
    expect(decide(u, { notReady: new Set() }, 1, c)).toMatchObject({ start: [], inFlight: 0, verifying: 1 });
    u = markSucceeded(u, 'a');
    expect(decide(u, { notReady: new Set() }, 2, c).start).toEqual(['b']);
    // --max-concurrency 2 with --max-unavailable 1: a verifying node is not unavailable, so the next one starts beside it
    const c2 = { maxConcurrency: 2, maxUnavailable: 1, nodeTimeoutMs: 1_000 };
    let s = initialState([{ name: 'a', zone: '' }, { name: 'b', zone: '' }, { name: 'c', zone: '' }], { count: 0 });
    s = markStarted(s, 'a', 0);
    expect(decide(s, { notReady: new Set() }, 1, c2).start).toEqual([]);
    s = markSwapped(s, 'a');
    expect(decide(s, { notReady: new Set() }, 2, c2)).toMatchObject({ start: ['b'], inFlight: 0, verifying: 1 });
    s = markStarted(s, 'b', 2);
    // a's look still running past the node timeout pauses the run
    expect(decide(s, { notReady: new Set() }, 1_001, c).pause).toMatch(/node a has not finished within 1 s/);
    // a's look found a restart: paused, b (in flight) still finishes, nothing new starts
    s = markFailed(s, 'a', 'default/p/main restarted');
    expect(s.paused).toMatch(/node a: default\/p\/main restarted/);
    s = markSwapped(s, 'b');
    expect(decide(s, { notReady: new Set() }, 3, c)).toMatchObject({ start: [], inFlight: 0, verifying: 1, finished: false });
    s = markSucceeded(s, 'b');
    s = resume(s);
    expect(decide(s, { notReady: new Set() }, 4, c).start).toEqual(['a']);
    // a NotReady verifying node counts again: the observation holds it
    let t = initialState([{ name: 'a', zone: '' }, { name: 'b', zone: '' }], { count: 0 });
    t = markSwapped(markStarted(t, 'a', 0), 'a');
    expect(decide(t, { notReady: new Set(['a']) }, 1, c2).start).toEqual([]);
    expect(decide(t, { notReady: new Set() }, 1, c2).start).toEqual(['b']);
  });
});

describe('rollout scheduler (examples)', () => {
  const c = { maxConcurrency: 3, maxUnavailable: 2, nodeTimeoutMs: 60_000 };
  it('interleaves zones, by name', () => {
    expect(interleaveByZone([
      { name: 'a1', zone: 'a' }, { name: 'a2', zone: 'a' }, { name: 'a3', zone: 'a' }, { name: 'b1', zone: 'b' }, { name: 'c1', zone: 'c' }, { name: 'c2', zone: 'c' },
    ])).toEqual(['a1', 'b1', 'c1', 'a2', 'c2', 'a3']);
  });

  it('pauses when more nodes are NotReady than allowed, and when a node takes too long', () => {
    let s = initialState([{ name: 'a', zone: '' }, { name: 'b', zone: '' }], { count: 0 });
    expect(decide(s, { notReady: new Set(['x', 'y', 'z']) }, 0, c).pause).toMatch(/3 nodes are NotReady \(x, y, z\), more than --max-unavailable 2/);
    s = markStarted(s, 'a', 0);
    expect(decide(s, { notReady: new Set() }, 60_001, c).pause).toMatch(/node a has not finished within 60 s/);
  });

  it('counts nodes NotReady elsewhere against --max-unavailable', () => {
    const s = initialState([{ name: 'a', zone: '' }, { name: 'b', zone: '' }, { name: 'c', zone: '' }], { count: 0 });
    expect(decide(s, { notReady: new Set(['other']) }, 0, c).start).toEqual(['a']);
    expect(decide(s, { notReady: new Set() }, 0, c).start).toEqual(['a', 'b']);
  });

  it('refuses a canary node the step does not upgrade, and bad limits', () => {
    expect(() => validateConfig({ maxConcurrency: 0, maxUnavailable: 1, nodeTimeoutMs: 1 })).toThrow(/--max-concurrency must be at least 1/);
    expect(() => validateConfig({ maxConcurrency: 1, maxUnavailable: 0, nodeTimeoutMs: 1 })).toThrow(/--max-unavailable must be at least 1/);
    expect(() => initialState([{ name: 'a', zone: '' }], { nodes: ['nope'] })).toThrow(/canary node nope is not among the nodes this step upgrades \(a\)/);
    expect(initialState([{ name: 'a', zone: '' }, { name: 'b', zone: '' }], { nodes: ['b'] }).order).toEqual(['b', 'a']);
  });
});
