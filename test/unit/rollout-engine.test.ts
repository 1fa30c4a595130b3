import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRun, engineOver, makeWorld, maxOverlap, openStore, RUN_ID, specFor } from './engine-setup.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kip-engine-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('rollout engine over fake agents', () => {
  it('upgrades every node once, canary first, never more than --max-concurrency at once, and journals it', async () => {
    const world = makeWorld(dir, 7);
    const store = openStore(dir);
    const spec = specFor(world, { maxConcurrency: 3 });
    createRun(store, spec);
    const { outcome, marks } = await engineOver(world, store, spec);
    expect(outcome).toEqual({ phase: 'succeeded' });
    // visible with kubectl: kip.io/state annotations and Events on each Node
    expect(marks.filter((m) => m.startsWith('annotate w05'))).toEqual(['annotate w05 upgrading', 'annotate w05 succeeded']);
    expect(marks).toContain('event w05 Normal KipUpgradeSucceeded');
    const w = world.read();
    expect(w.executions.map((e) => e.node).sort()).toEqual(w.nodes.map((n) => n.name));
    expect(maxOverlap(w)).toBeLessThanOrEqual(3);
    expect(maxOverlap(w)).toBeGreaterThan(1);
    // zones interleaved: w01 (z-a) is the canary; it finished before anything else started
    const canary = w.executions[0]!;
    expect(canary.node).toBe('w01');
    expect(w.executions.slice(1).every((e) => e.startedAt >= canary.startedAt + canary.durationMs)).toBe(true);
    expect(store.getRun(RUN_ID)?.phase).toBe('succeeded');
    expect(store.nodes(RUN_ID).every((n) => n.phase === 'succeeded' && n.attempt === 1)).toBe(true);
    expect(store.openActions(RUN_ID)).toEqual([]);
    expect(store.actions(RUN_ID).filter((a) => a.kind === 'kubelet-upgrade')).toHaveLength(7);
    store.close();
  });

  it('journals each round in one commit: the outcomes since the last round with the nodes it starts (at most nodes + 1 commits, was 2 per node)', async () => {
    const world = makeWorld(dir, 7);
    const real = openStore(dir);
    let commits = 0;
    let depth = 0;
    const store: typeof real = {
      ...real,
      batch: (fn) => {
        if (depth === 0) commits++;
        depth++;
        try {
          return real.batch(fn);
        } finally {
          depth--;
        }
      },
    };
    const spec = specFor(world, { maxConcurrency: 3 });
    createRun(store, spec);
    const { outcome } = await engineOver(world, store, spec);
    expect(outcome).toEqual({ phase: 'succeeded' });
    expect(commits).toBeGreaterThan(0);
    expect(commits).toBeLessThanOrEqual(7 + 1);
    expect(real.nodes(RUN_ID).every((n) => n.phase === 'succeeded' && n.finishedAt !== null)).toBe(true);
    expect(real.openActions(RUN_ID)).toEqual([]);
    expect(real.events(RUN_ID).filter((e) => e.kind === 'node-succeeded')).toHaveLength(7);
    real.close();
  });

  it('pauses when an agent rolls back, lets the running node finish, and resume retries only the failed node', async () => {
    const world = makeWorld(dir, 5, { failNodes: ['w02'] });
    const store = openStore(dir);
    const spec = specFor(world, { maxConcurrency: 2, canary: { count: 0 } });
    createRun(store, spec);
    const first = await engineOver(world, store, spec);
    expect(first.outcome).toMatchObject({ phase: 'paused', reason: expect.stringMatching(/w02.*rolled-back: VERIFY_TIMEOUT/) });
    expect(store.getRun(RUN_ID)).toMatchObject({ phase: 'paused' });
    // nothing started after w02's failure was recorded, and what ran then finished (paused, not cancelled)
    const failedAt = store.nodes(RUN_ID).find((n) => n.node === 'w02')!.finishedAt!;
    const afterPause = world.read().executions;
    expect(afterPause.length).toBeGreaterThanOrEqual(2);
    expect(afterPause.every((e) => e.startedAt <= failedAt)).toBe(true);
    expect(store.nodes(RUN_ID).filter((n) => n.phase === 'upgrading')).toEqual([]);
    expect(store.nodes(RUN_ID).find((n) => n.node === 'w01')?.phase).toBe('succeeded');

    const second = await engineOver(world, store, spec);
    expect(second.outcome).toEqual({ phase: 'succeeded' });
    const runs = world.read().executions;
    expect(runs.filter((e) => e.node === 'w01')).toHaveLength(1);
    expect(runs.filter((e) => e.node === 'w02').map((e) => e.runId)).toEqual([`${RUN_ID}.s0.w02.a1`, `${RUN_ID}.s0.w02.a2`]);
    expect(new Set(runs.map((e) => e.node)).size).toBe(5);
    store.close();
  });

  it('pauses when a container on the node restarted, naming it', async () => {
    const world = makeWorld(dir, 3, { restartNodes: ['w01'] });
    const store = openStore(dir);
    const spec = specFor(world);
    createRun(store, spec);
    const { outcome } = await engineOver(world, store, spec);
    expect(outcome).toMatchObject({ phase: 'paused', reason: expect.stringContaining('default/w01-pod/main restarted') });
    expect(store.events(RUN_ID).some((e) => e.kind === 'gate' && e.node === 'w01')).toBe(true);
    expect(world.read().executions).toHaveLength(1);
    store.close();
  });

  it('keeps a node\'s slot through its last look: at --max-concurrency 1 the next agent run starts after the previous node\'s outcome; a restart that look finds pauses the run before another kubelet is touched', async () => {
    // A look of 400 ms (pollMs) against 40 ms agent runs: were the slot freed at the swap, the next
    // node would start during the look.
    const world = makeWorld(dir, 4);
    const store = openStore(dir);
    const spec = specFor(world, { maxConcurrency: 1, canary: { count: 0 } });
    createRun(store, spec);
    const { outcome } = await engineOver(world, store, spec, { pollMs: 400 });
    expect(outcome).toEqual({ phase: 'succeeded' });
    const w = world.read();
    expect(maxOverlap(w)).toBe(1);
    const done = new Map(store.nodes(RUN_ID).map((n) => [n.node, n.finishedAt!]));
    const runs = [...w.executions].sort((a, b) => a.startedAt - b.startedAt);
    expect(runs).toHaveLength(4);
    for (let i = 1; i < runs.length; i++) expect(runs[i]!.startedAt).toBeGreaterThanOrEqual(done.get(runs[i - 1]!.node)!);
    store.close();

    const dir2 = await mkdtemp(join(tmpdir(), 'kip-engine-'));
    try {
      const world2 = makeWorld(dir2, 4, { restartNodes: ['w01'] });
      const store2 = openStore(dir2);
      const spec2 = specFor(world2, { maxConcurrency: 1, canary: { count: 0 } });
      createRun(store2, spec2);
      const second = await engineOver(world2, store2, spec2, { pollMs: 400 });
      expect(second.outcome).toMatchObject({ phase: 'paused', reason: expect.stringContaining('default/w01-pod/main restarted') });
      // The node whose look found it failed, and no other node's agent run started: its slot was
      // still taken when the restart was seen.
      const recs = new Map(store2.nodes(RUN_ID).map((n) => [n.node, n]));
      expect(recs.get('w01')?.phase).toBe('failed');
      const ran = world2.read();
      expect(ran.executions[0]?.node).toBe('w01');
      expect(maxOverlap(ran)).toBe(1);
      expect(ran.executions.map((e) => e.node)).toEqual(['w01']);
      expect([...recs.values()].filter((n) => n.node !== 'w01').every((n) => n.phase === 'pending')).toBe(true);
      expect(store2.nodes(RUN_ID).filter((n) => n.phase === 'upgrading')).toEqual([]);
      store2.close();
    } finally {
      await rm(dir2, { recursive: true, force: true });
    }
  });

  it('an abort (Ctrl-C) pauses: running nodes finish, no new one starts', async () => {
    const world = makeWorld(dir, 6, { durationMs: 150 });
    const store = openStore(dir);
    const spec = specFor(world, { canary: { count: 0 }, maxConcurrency: 2 });
    createRun(store, spec);
    const ac = new AbortController();
    const run = engineOver(world, store, spec, { signal: ac.signal, progress: (l) => { if (l.includes('agent run')) ac.abort(); } });
    const { outcome } = await run;
    expect(outcome).toEqual({ phase: 'paused', reason: 'interrupted by the operator' });
    const w = world.read();
    expect(w.executions.length).toBeGreaterThanOrEqual(1);
    expect(w.executions.length).toBeLessThanOrEqual(2);
    expect(store.nodes(RUN_ID).filter((n) => n.phase === 'upgrading')).toEqual([]);
    store.close();
  });
});
