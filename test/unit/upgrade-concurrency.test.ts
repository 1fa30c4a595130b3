// Issue 8 defects 4 and 10: the one-run check and the claim are one step; one driver per run.
import { afterEach, describe, expect, it } from 'vitest';
import { FORWARD_STEPS } from '../../agent/upgrade/types.ts';
import { fakeBinary, makeHarness, type Harness, collect } from './upgrade-fakes.ts';

const NEW = 'v1.11.10';
let h: Harness;
afterEach(async () => {
  await h?.cleanup();
});

describe('concurrent Upgrade calls', () => {
  it('two run ids at once: exactly one runs, the other is refused with RUN_IN_PROGRESS naming it', async () => {
    h = await makeHarness();
    const { agent, stage } = h.makeAgent();
    await agent.start();
    await h.stageBuffer(stage, NEW, fakeBinary(NEW));
    const results = await Promise.allSettled([agent.begin({ runId: 'run-a', targetVersion: NEW }), agent.begin({ runId: 'run-b', targetVersion: NEW })]);
    const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    const winner = won[0]!.runId;
    expect(lost[0]).toMatchObject({ code: 'RUN_IN_PROGRESS', details: { runId: winner } });
    const events = await collect(agent.events(winner));
    expect(events.at(-1)).toMatchObject({ phase: 'RUN_SUCCEEDED' });
    const loser = winner === 'run-a' ? 'run-b' : 'run-a';
    await expect(agent.getRun(loser)).rejects.toMatchObject({ code: 'RUN_NOT_FOUND' });
    // one stop and one start of the kubelet: nothing drove the node but the winner
    expect(h.node.events).toEqual(['stop', 'start']);
    expect(events.filter((e) => e.status === 'STEP_STARTED').map((e) => e.step)).toEqual([...FORWARD_STEPS]);
  });

  it('the same run id twice in one tick: one driver, both callers get the run', async () => {
    h = await makeHarness();
    const { agent, stage } = h.makeAgent();
    await agent.start();
    await h.stageBuffer(stage, NEW, fakeBinary(NEW));
    const [a, b] = await Promise.all([agent.begin({ runId: 'same', targetVersion: NEW }), agent.begin({ runId: 'same', targetVersion: NEW })]);
    expect(a.runId).toBe('same');
    expect(b.runId).toBe('same');
    const events = await collect(agent.events('same'));
    expect(events.at(-1)).toMatchObject({ phase: 'RUN_SUCCEEDED' });
    // each step journaled once, seq without gaps or repeats, the kubelet swapped once
    expect(events.filter((e) => e.status === 'STEP_STARTED').map((e) => e.step)).toEqual([...FORWARD_STEPS]);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(h.node.events).toEqual(['stop', 'start']);
    expect((await agent.getRun('same')).events).toEqual(events);
  });

  it('the same run id twice in one tick with another target: one runs, the other gets RUN_ID_CONFLICT', async () => {
    h = await makeHarness();
    const { agent, stage } = h.makeAgent();
    await agent.start();
    await h.stageBuffer(stage, NEW, fakeBinary(NEW));
    const results = await Promise.allSettled([agent.begin({ runId: 'same', targetVersion: NEW }), agent.begin({ runId: 'same', targetVersion: 'v1.11.9' })]);
    expect(results[0]).toMatchObject({ status: 'fulfilled' });
    expect(results[1]).toMatchObject({ status: 'rejected', reason: { code: 'RUN_ID_CONFLICT' } });
    await collect(agent.events('same'));
    expect(h.node.events).toEqual(['stop', 'start']);
  });
});
