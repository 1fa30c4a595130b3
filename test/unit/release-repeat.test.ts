/**
 * Release through the agent's ComponentService after a held swap: a Release repeated after
 * COMPONENT_UNHEALTHY (or sent again by a coordinator killed while the first one waited) answers
 * COMPONENT_UNHEALTHY again instead of "ok, nothing was held"; once Rollback(run_id) restored the
 * old binary, Release answers ok. The coordinator's automatic rollback relies on both.
 */
import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { componentBinary, makeComponentHarness, releaseService, type ComponentHarness } from './upgrade-component-fakes.ts';
import { collect, sha256 } from './upgrade-fakes.ts';

let h: ComponentHarness | undefined;
afterEach(async () => {
  await h?.cleanup();
  h = undefined;
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
  return 'ok';
}

describe('Release of a held swap, repeated', () => {
  it('stays COMPONENT_UNHEALTHY until Rollback(run_id); then Release is ok and the old binary runs', async () => {
    h = await makeComponentHarness();
    const node = h.node;
    const oldBin = componentBinary('kube-scheduler', 'v1.15.3');
    await node.addUnit('kube-scheduler', 'kube-scheduler.service', '/usr/local/bin/kube-scheduler', oldBin, []);
    const { agent, stage } = h.makeAgent({ verifyTimeoutMs: 300 });
    await agent.start();
    // The hold as the fake node models it: Release removes it and starts the unit.
    const service = releaseService(node, agent, 'kube-scheduler.service');

    node.holds.set('kube-scheduler', 'held');
    await node.systemd.stop('kube-scheduler.service');
    await h.stage(stage, 'kube-scheduler', 'v1.16.2', componentBinary('kube-scheduler', 'v1.16.2', { crash: true }));
    await agent.begin({ runId: 'r1', targetVersion: 'v1.16.2', component: 'kube-scheduler' });
    expect((await collect(agent.events('r1'))).at(-1)).toMatchObject({ phase: 'RUN_SUCCEEDED' });

    expect(await codeOf(service.release('kube-scheduler'))).toBe('COMPONENT_UNHEALTHY');
    expect(node.holds.has('kube-scheduler')).toBe(false);
    // The hold is gone; before the fix this answered ok with the crash-looping binary running.
    expect(await codeOf(service.release('kube-scheduler'))).toBe('COMPONENT_UNHEALTHY');

    expect((await agent.rollback('r1')).phase).toBe('RUN_ROLLED_BACK');
    expect(sha256(await readFile(node.host('/usr/local/bin/kube-scheduler')))).toBe(sha256(oldBin));
    expect(await codeOf(service.release('kube-scheduler'))).toBe('ok');
    expect(node.units.get('kube-scheduler.service')).toMatchObject({ active: true, crash: false });
  });

  it('a healthy held swap: the first Release verifies and marks it released; a repeated one is ok at once', async () => {
    h = await makeComponentHarness();
    const node = h.node;
    await node.addUnit('kube-scheduler', 'kube-scheduler.service', '/usr/local/bin/kube-scheduler', componentBinary('kube-scheduler', 'v1.15.3'), []);
    const { agent, stage } = h.makeAgent();
    await agent.start();
    // The hold as the fake node models it: Release removes it and starts the unit.
    const service = releaseService(node, agent, 'kube-scheduler.service');
    node.holds.set('kube-scheduler', 'held');
    await node.systemd.stop('kube-scheduler.service');
    await h.stage(stage, 'kube-scheduler', 'v1.16.2', componentBinary('kube-scheduler', 'v1.16.2'));
    await agent.begin({ runId: 'r2', targetVersion: 'v1.16.2', component: 'kube-scheduler' });
    await collect(agent.events('r2'));
    expect(await codeOf(service.release('kube-scheduler'))).toBe('ok');
    const released = (await agent.getRun('r2')).releasedAtMs;
    expect(released).toBeGreaterThan(0);
    expect(await codeOf(service.release('kube-scheduler'))).toBe('ok');
    expect((await agent.getRun('r2')).releasedAtMs).toBe(released);
  });
});
