/**
 * The rollout engine records each node's kubelet apiserver connections (GetNode fields 17/18)
 * right before it upgrades the node and again once it is done; kip status --live and kip report
 * compare with that pre-step record, so a step that multiplied them (1.17 kubelets: kubernetes PR
 * #95427, fixed by #105490) is warned even when no --live look was ever taken before the step.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../lib/clock.ts';
import { silentLogger } from '../../lib/logger.ts';
import type { AgentPort, NodeInfo } from '../../coordinator/fleet/port.ts';
import { runEngine } from '../../coordinator/rollout/engine.ts';
import { liveStatus } from '../../coordinator/commands/status-live.ts';
import { markdownReport, htmlReport } from '../../coordinator/report/report.ts';
import { fakeAgent, fakeWorldCluster, type WorldFile } from './engine-fakes.ts';
import { createRun, makeWorld, openStore, RUN_ID, specFor } from './engine-setup.ts';

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kip-engine-conns-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** An agent whose kubelet holds 1 connection on v1.16 and 10 on v1.17 (the multiplied case), or `flat` always. */
function agentWithConnections(world: WorldFile, node: string, flat?: number): AgentPort {
  const base = fakeAgent(world, node, () => Date.now(), (ms) => systemClock.sleep(ms));
  return {
    ...base,
    getNode: async () => {
      const info = await base.getNode();
      const n = flat ?? (info.kubeletVersion === 'v1.17.17' ? 10 : 1);
      return { ...info, apiserverConnections: [{ endpoint: '10.0.0.1:6443', established: n }], connectionErrors: { windowMinutes: 5, count: 0, minutesWithErrors: 0, lastAtUnixMs: 0 } } as unknown as NodeInfo;
    },
  };
}

async function run(flat?: number) {
  const world = makeWorld(dir, 3);
  const store = openStore(dir);
  const spec = specFor(world);
  createRun(store, spec);
  const cluster = fakeWorldCluster(world, () => Date.now());
  await cluster.lock.acquire('test', RUN_ID, 60_000, Date.now());
  const agents = new Map(world.read().nodes.map((n) => [n.name, agentWithConnections(world, n.name, flat)]));
  const outcome = await runEngine(RUN_ID, spec, { store, cluster, agents, clock: systemClock, logger: silentLogger(), pollMs: 5 });
  return { world, store, spec, agents, cluster, outcome };
}

describe('connection counts recorded by the engine around each node', () => {
  it('before (the old kubelet) and after (the new one) per node, in the store', async () => {
    const { store, outcome } = await run();
    expect(outcome).toEqual({ phase: 'succeeded' });
    const rec = store.connections(RUN_ID);
    expect(rec.map((r) => [r.node, r.when, r.counts['10.0.0.1:6443']])).toEqual([
      ['w01', 'before', 1], ['w01', 'after', 10], ['w02', 'before', 1], ['w02', 'after', 10], ['w03', 'before', 1], ['w03', 'after', 10],
    ]);
    const started = new Map(store.nodes(RUN_ID).map((n) => [n.node, n.startedAt!]));
    // the before look is committed with the node's start, the after once it finished
    for (const r of rec.filter((x) => x.when === 'before')) expect(r.at).toBeLessThanOrEqual(started.get(r.node)! + 1);
    store.close();
  }, 60_000);

  it('kip status --live warns against the recorded pre-step counts with no earlier --live look; kip report too', async () => {
    const { store, agents, spec } = await run();
    const nodes = spec.steps[0]!.nodes.map((n) => ({ metadata: { name: n.name }, status: { conditions: [{ type: 'Ready', status: 'True' }] } }));
    const s = await liveStatus({ agents, nodes, stateDir: dir, runId: RUN_ID, now: Date.now(), recorded: store.connections(RUN_ID) });
    expect(s.connectionWarnings.map((w) => [w.object, w.before, w.now])).toEqual([['w01', 1, 10], ['w02', 1, 10], ['w03', 1, 10], ['endpoint 10.0.0.1:6443', 3, 30]]);
    expect(s.connectionWarnings[0]!.message).toMatch(/#95427.*#105490/);
    // without the record, the first --live look has no baseline: nothing to compare with
    const fresh = await mkdtemp(join(tmpdir(), 'kip-engine-conns-fresh-'));
    try {
      expect((await liveStatus({ agents, nodes, stateDir: fresh, runId: RUN_ID, now: Date.now() })).connectionWarnings).toEqual([]);
    } finally {
      await rm(fresh, { recursive: true, force: true });
    }
    const model = { run: store.getRun(RUN_ID)!, spec, nodes: store.nodes(RUN_ID), events: store.events(RUN_ID), connections: store.connections(RUN_ID) };
    const md = markdownReport(model);
    expect(md).toContain('## Kubelet apiserver connections');
    expect(md).toMatch(/\| 1 \(-> v1\.17\.17\) \| w02 \| 1 \| 10 \|/);
    expect(md).toMatch(/WARNING step 1 \(-> v1\.17\.17\) endpoint 10\.0\.0\.1:6443: 3 -> 30 apiserver connections: .*PR #95427, fixed by #105490/);
    expect(htmlReport(model)).toMatch(/<p class="warning"><b>WARNING step 1 \(-&gt; v1\.17\.17\) w01: 1 -&gt; 10/);
    store.close();
  }, 60_000);

  it('counts that did not multiply: recorded, no warning', async () => {
    const { store, agents, spec } = await run(2);
    const nodes = spec.steps[0]!.nodes.map((n) => ({ metadata: { name: n.name }, status: { conditions: [{ type: 'Ready', status: 'True' }] } }));
    expect(store.connections(RUN_ID)).toHaveLength(6);
    expect((await liveStatus({ agents, nodes, stateDir: dir, runId: RUN_ID, now: Date.now(), recorded: store.connections(RUN_ID) })).connectionWarnings).toEqual([]);
    expect(markdownReport({ run: store.getRun(RUN_ID)!, spec, nodes: store.nodes(RUN_ID), events: [], connections: store.connections(RUN_ID) })).not.toContain('WARNING');
    store.close();
  }, 60_000);
});
