// The node's one mutating claim (agent/upgrade/node-claim.ts): Upgrade, Rollback, Heal, Hold,
// Release and RemoveStaged take it atomically. The races run real promises through the event loop
// against the upgrade agent and the heal service on a fake node: before the claim, a heal and an
// upgrade (or a rollback) each checked the other through awaits and both went ahead.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readHealFacts } from '../../agent/heal/facts.ts';
import { HealService, type HealResult } from '../../agent/heal/heal.ts';
import type { UpgradeAgent } from '../../agent/upgrade/agent.ts';
import { nodeFileSystem } from '../../agent/upgrade/fs.ts';
import { CLAIM_FILE, NodeClaim } from '../../agent/upgrade/node-claim.ts';
import type { RunRecord } from '../../agent/upgrade/types.ts';
import type { HealthPort } from '../../agent/upgrade/ports.ts';
import { systemClock } from '../../lib/clock.ts';
import { silentLogger } from '../../lib/logger.ts';
import { collect, fakeBinary, makeHarness, type Harness } from './upgrade-fakes.ts';

const NEW = 'v1.11.10';
let h: Harness | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await h?.cleanup();
  h = undefined;
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('NodeClaim', () => {
  it('is taken by one caller; the next is refused with RUN_IN_PROGRESS naming the holder, until it is released', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kip-claim-'));
    dirs.push(dir);
    const claim = new NodeClaim({ fs: nodeFileSystem, stateDir: dir, clock: systemClock, logger: silentLogger() });
    const heal = claim.take('heal', 'h1');
    expect(() => claim.take('upgrade', 'r1')).toThrow(expect.objectContaining({ code: 'RUN_IN_PROGRESS', message: 'heal h1 is in progress on this node', details: { holder: 'heal', holderId: 'h1' } }));
    expect(() => claim.take('hold', 'kube-scheduler')).toThrow(expect.objectContaining({ code: 'RUN_IN_PROGRESS' }));
    await heal.journaled;
    expect(JSON.parse(await readFile(path.join(dir, CLAIM_FILE), 'utf8'))).toMatchObject({ kind: 'heal', id: 'h1' });
    await heal.release();
    await expect(readFile(path.join(dir, CLAIM_FILE), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
    // A run's refusal keeps details.runId, as RUN_IN_PROGRESS always had.
    const run = claim.take('upgrade', 'r1');
    expect(() => claim.take('heal', 'h2')).toThrow(expect.objectContaining({ message: 'run r1 is in progress on this node', details: { holder: 'upgrade', holderId: 'r1', runId: 'r1' } }));
    // Released and taken again in one tick: the first removal never lands after the next write.
    void run.release();
    const next = claim.take('remove-staged', 'kubelet@v1.11.10');
    await next.journaled;
    await new Promise((r) => setImmediate(r));
    expect(JSON.parse(await readFile(path.join(dir, CLAIM_FILE), 'utf8'))).toMatchObject({ kind: 'remove-staged', id: 'kubelet@v1.11.10' });
    await next.release();
  });

  it('a journal that cannot be written releases the claim and fails the call: nothing acts unjournaled', async () => {
    const failing = { ...nodeFileSystem, writeAtomic: async () => { throw new Error('EROFS: read-only file system'); } };
    const claim = new NodeClaim({ fs: failing, stateDir: '/nonexistent', clock: systemClock, logger: silentLogger() });
    let acted = false;
    await expect(claim.with('heal', 'h1', async () => { acted = true; })).rejects.toThrow('EROFS');
    expect(acted).toBe(false);
    expect(claim.holder).toBeUndefined();
  });

  it('a claim a killed agent left is reported at start-up and removed', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kip-claim-'));
    dirs.push(dir);
    const first = new NodeClaim({ fs: nodeFileSystem, stateDir: dir, clock: systemClock, logger: silentLogger() });
    await first.take('hold', 'kube-scheduler').journaled; // never released: the process "dies"
    const second = new NodeClaim({ fs: nodeFileSystem, stateDir: dir, clock: systemClock, logger: silentLogger() });
    expect(await second.recover()).toMatchObject({ kind: 'hold', id: 'kube-scheduler' });
    expect(await second.recover()).toBeUndefined();
    expect(second.holder).toBeUndefined();
  });
});

/** A heal service on the harness's fake kubelet, sharing the agent's claim (as agent/eyes.ts wires it). */
function healOn(harness: Harness, agent: UpgradeAgent, health: HealthPort = harness.node.health): HealService {
  return new HealService({
    fs: nodeFileSystem,
    systemd: harness.node.systemd,
    health,
    clock: systemClock,
    logger: silentLogger(),
    facts: async () => {
      const f = await readHealFacts({ runInProgress: () => agent.runInProgress(), nodeInfo: () => agent.nodeInfo(), containers: async () => [] });
      // The fake node has no workload API: the gate's hash facts are given (a clean node).
      return { ...f, hashes: { oldHash: [], undecodable: 0, allConsistent: true, problems: [] } };
    },
    containers: async () => [],
    config: { stateDir: harness.stateDir, kubeletUnit: 'kubelet.service', healthzUrl: 'http://127.0.0.1:10248/healthz', verifyTimeoutMs: 5_000, pollMs: 5 },
    claim: agent.claim,
  });
}

const settle = <T>(ps: readonly Promise<T>[]) => Promise.allSettled(ps);
const won = <T>(rs: readonly PromiseSettledResult<T>[]) => rs.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
const lost = (rs: readonly PromiseSettledResult<unknown>[]) => rs.flatMap((r) => (r.status === 'rejected' ? [r.reason as { code: string; details: Record<string, unknown> }] : []));

describe('a heal and an upgrade claim are one atomic lock', () => {
  /**
   * Where the second call lands in the heal: the same tick (before the heal's first await), after
   * the heal stopped the kubelet, and after it started it again (waiting for health, held there).
   */
  const POINTS = ['same tick', 'stop', 'start'] as const;
  async function racing<T>(point: (typeof POINTS)[number], second: (agent: UpgradeAgent) => Promise<T>, setup?: (agent: UpgradeAgent) => Promise<void>) {
    h = await makeHarness();
    const harness = h;
    const { agent, stage } = harness.makeAgent();
    await agent.start();
    await harness.stageBuffer(stage, NEW, fakeBinary(NEW));
    await setup?.(agent);
    harness.node.events.length = 0;
    let healthy: () => void = () => {};
    const gate = new Promise<void>((r) => { healthy = r; });
    const probe = harness.node.health;
    const healing = healOn(harness, agent, { healthz: async (url, ms) => { await gate; return probe.healthz(url, ms); } }).heal({ mode: 'restart', dryRun: false, healId: 'h1', settleMs: 1 });
    healing.catch(() => undefined);
    if (point !== 'same tick') {
      // Wait for the heal to reach the point (or to be refused, which a correct agent never does here).
      let refused = false;
      healing.catch(() => { refused = true; });
      while (!refused && !harness.node.events.includes(point)) await new Promise((r) => setImmediate(r));
    }
    const other = await settle<unknown>([second(agent)]);
    healthy();
    const heal = await settle<unknown>([healing]);
    await agent.whenIdle();
    return { results: [...heal, ...other], node: harness.node };
  }

  it('Heal, then Upgrade at each point of it: exactly one restarts the kubelet, the other gets RUN_IN_PROGRESS naming it', async () => {
    for (const point of POINTS) {
      const { results, node } = await racing(point, (agent) => agent.begin({ runId: 'r1', targetVersion: NEW }));
      // Only the winner touched the kubelet: one stop and one start.
      expect(node.events, point).toEqual(['stop', 'start']);
      expect(won(results), point).toHaveLength(1);
      const refusal = lost(results)[0]!;
      expect(refusal.code, point).toBe('RUN_IN_PROGRESS');
      expect(refusal.details, point).toMatchObject(point === 'same tick' ? { holder: 'upgrade', runId: 'r1' } : { holder: 'heal', holderId: 'h1' });
      await h!.cleanup();
      h = undefined;
    }
  });

  it('Heal, then Rollback of the last run at each point of it: one restarts the kubelet, the other is refused', async () => {
    for (const point of POINTS) {
      const { results, node } = await racing(point, (agent) => agent.rollback('r1'), async (agent) => {
        await agent.begin({ runId: 'r1', targetVersion: NEW });
        expect((await collect(agent.events('r1'))).at(-1)).toMatchObject({ phase: 'RUN_SUCCEEDED' });
      });
      expect(node.events, point).toEqual(['stop', 'start']);
      expect(won(results), point).toHaveLength(1);
      expect(lost(results)[0], point).toMatchObject({ code: 'RUN_IN_PROGRESS' });
      await h!.cleanup();
      h = undefined;
    }
  });

  it('while a heal holds the node, a staged removal, a Hold and an Upgrade are refused naming the heal; after it, removal passes', async () => {
    h = await makeHarness();
    const { agent, stage } = h.makeAgent();
    await agent.start();
    await h.stageBuffer(stage, NEW, fakeBinary(NEW));
    // The heal waits for the kubelet's health: hold it there until the checks below are done.
    let healthy: () => void = () => {};
    const gate = new Promise<void>((r) => { healthy = r; });
    const probe = h.node.health;
    const slow = healOn(h, agent, { healthz: async (url, ms) => { await gate; return probe.healthz(url, ms); } });
    const healing = slow.heal({ mode: 'restart', dryRun: false, healId: 'h-slow', settleMs: 1 });
    await new Promise<void>((r) => { const t = setInterval(() => { if (h!.node.events.includes('start')) { clearInterval(t); r(); } }, 2); });
    const named = { code: 'RUN_IN_PROGRESS', details: { holder: 'heal', holderId: 'h-slow' } };
    await expect(agent.claim.with('remove-staged', `kubelet@${NEW}`, () => stage.remove(NEW))).rejects.toMatchObject(named);
    await expect(agent.claim.with('hold', 'kube-scheduler', async () => 'held')).rejects.toMatchObject(named);
    await expect(agent.begin({ runId: 'r2', targetVersion: NEW })).rejects.toMatchObject(named);
    healthy();
    expect(await healing).toMatchObject({ restarted: true });
    expect(await agent.claim.with('remove-staged', `kubelet@${NEW}`, () => stage.remove(NEW))).toMatchObject({ removed: true });
  });
});
