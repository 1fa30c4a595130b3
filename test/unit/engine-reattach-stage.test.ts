import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../lib/clock.ts';
import { KipError } from '../../lib/errors.ts';
import { silentLogger } from '../../lib/logger.ts';
import { ACTION_KUBELET, runEngine } from '../../coordinator/rollout/engine.ts';
import { fakeAgent, fakeWorldCluster } from './engine-fakes.ts';
import { createRun, makeWorld, openStore, RUN_ID, specFor } from './engine-setup.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kip-reattach-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * A coordinator killed after journaling a node's agent run but before `--releases` staged its
 * binary: `kip resume` re-attaches to that run. Found on the lab (e2e of the coordinator's faults):
 * the re-attached Upgrade failed NOT_STAGED because staging was skipped for every re-attached node.
 */
async function resumeWith(agentKnowsRun: boolean): Promise<{ staged: string[]; outcome: unknown; calls: string[] }> {
  const world = makeWorld(dir, 2);
  const store = openStore(dir);
  const spec = specFor(world, { maxConcurrency: 1, canary: { count: 0 } });
  createRun(store, spec);
  const first = spec.steps[0]!;
  const interrupted = first.nodes[0]!.name;
  // The journal as a kill -9 right after beginAction leaves it: the action open, no outcome.
  store.beginAction({ runId: RUN_ID, kind: ACTION_KUBELET, node: interrupted, payload: JSON.stringify({ step: first.index, to: first.to, agentRunId: 'agent-run-1', attempt: 1, before: {} }), at: Date.now() });
  const cluster = fakeWorldCluster(world, () => Date.now());
  await cluster.lock.acquire('test', RUN_ID, 60_000, Date.now());
  const agents = new Map(world.read().nodes.map((n) => {
    const a = fakeAgent(world, n.name, () => Date.now(), (ms) => systemClock.sleep(ms));
    return [n.name, {
      ...a,
      getRun: async (id?: string) => {
        a.calls.push(`getRun ${id ?? ''}`);
        if (agentKnowsRun && id === 'agent-run-1') return { runId: id } as Awaited<ReturnType<typeof a.getRun>>;
        throw new KipError('RUN_NOT_FOUND', `no run ${id ?? ''} on this node`, { runId: id });
      },
    }];
  }));
  const staged: string[] = [];
  const outcome = await runEngine(RUN_ID, spec, {
    store, cluster, agents, clock: systemClock, logger: silentLogger(), pollMs: 5,
    stage: async (node, _agent, version, component) => {
      staged.push(`${node} ${component ?? 'kubelet'} ${version}`);
    },
  });
  store.close();
  return { staged, outcome, calls: agents.get(interrupted)!.calls };
}

describe('resume re-attaches to a node journaled before its binary was staged', () => {
  it('stages it first when the agent does not know the run', async () => {
    const { staged, outcome, calls } = await resumeWith(false);
    expect(outcome).toEqual({ phase: 'succeeded' });
    expect(calls).toContain('getRun agent-run-1');
    // both nodes staged: the re-attached one (its run unknown to its agent) and the other
    expect(staged).toHaveLength(2);
  });

  it('does not stage it again when the agent knows the run (it has its binary)', async () => {
    const { staged, outcome } = await resumeWith(true);
    expect(outcome).toEqual({ phase: 'succeeded' });
    expect(staged).toHaveLength(1);
  });
});
