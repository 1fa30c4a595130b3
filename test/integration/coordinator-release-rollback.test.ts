/**
 * The calls the coordinator's automatic rollback makes (coordinator/rollout/control-plane.ts,
 * control-plane-recovery.ts), over the real kip-agent gRPC server with mutual TLS: the held swap
 * through Upgrade, Release answering COMPONENT_UNHEALTHY with the swap's run id in the error
 * details (what the coordinator rolls back), a repeated Release answering the same, Rollback(run)
 * restoring the old binary (RunState names the version it went back to), and Release then ok.
 * The node is the fake component node of the unit tests (a simulated systemd over real files).
 */
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isKipError } from '../../lib/errors.ts';
import { silentLogger } from '../../lib/logger.ts';
import { createAgentHandlers, startAgentServer, type RunningServer } from '../../agent/server.ts';
import { AgentConnection } from '../../coordinator/fleet/client.ts';
import { upgradeNode } from '../../coordinator/rollout/node-upgrade.ts';
import { componentBinary, makeComponentHarness, releaseService, type ComponentHarness } from '../unit/upgrade-component-fakes.ts';
import { sha256 } from '../unit/upgrade-fakes.ts';
import { makeTestPki, type TestPki } from '../../scripts/nspawn/test-pki.ts';

let tmp = '';
let pki: TestPki;
let h: ComponentHarness;
let server: RunningServer;
let conn: AgentConnection;
const oldBin = componentBinary('kube-scheduler', 'v1.15.3');

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'kip-coord-release-'));
  pki = await makeTestPki(path.join(tmp, 'pki'));
  h = await makeComponentHarness();
  const node = h.node;
  await node.addUnit('kube-scheduler', 'kube-scheduler.service', '/usr/local/bin/kube-scheduler', oldBin, []);
  const { agent, stage } = h.makeAgent({ verifyTimeoutMs: 500 });
  await agent.start();
  await h.stage(stage, 'kube-scheduler', 'v1.16.2', componentBinary('kube-scheduler', 'v1.16.2', { crash: true }));
  // The hold as the fake node models it: Release removes it and starts the unit.
  const components = releaseService(node, agent, 'kube-scheduler.service');
  node.holds.set('kube-scheduler', 'held');
  await node.systemd.stop('kube-scheduler.service');
  server = await startAgentServer({ address: '127.0.0.1:0', tls: pki.server, handlers: createAgentHandlers(agent, stage, silentLogger(), { components }), logger: silentLogger() });
  conn = new AgentConnection({ address: `127.0.0.1:${server.port}`, tls: pki.client });
}, 60_000);

afterAll(async () => {
  conn?.close();
  await server?.shutdown(2_000);
  await h?.cleanup();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function failure(p: Promise<unknown>): Promise<{ code: string; details: Record<string, unknown> } | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (isKipError(err)) return { code: err.code, details: err.details as Record<string, unknown> };
    throw err;
  }
}

describe('Release and Rollback of a held swap over gRPC', () => {
  it('COMPONENT_UNHEALTHY names the run (twice); Rollback restores the old binary; Release is then ok', async () => {
    const res = await upgradeNode('cp1', { upgrade: (req) => conn.upgradeFollow(req) }, { runId: 'run.cp0.cp1.kube-scheduler.a1', targetVersion: 'v1.16.2', component: 'kube-scheduler', verifyTimeoutMs: 0, allowDroppedFlags: [] });
    expect(res.outcome).toBe('succeeded');
    expect(h.node.units.get('kube-scheduler.service')?.active).toBe(false);

    const first = await failure(conn.release('kube-scheduler'));
    expect(first).toMatchObject({ code: 'COMPONENT_UNHEALTHY', details: { runId: 'run.cp0.cp1.kube-scheduler.a1', component: 'kube-scheduler' } });
    // A coordinator killed while waiting sends Release again: the same answer, not "ok".
    expect(await failure(conn.release('kube-scheduler'))).toMatchObject({ code: 'COMPONENT_UNHEALTHY', details: { runId: 'run.cp0.cp1.kube-scheduler.a1' } });

    const rolled = await conn.rollback('run.cp0.cp1.kube-scheduler.a1');
    expect(rolled).toMatchObject({ phase: 'RUN_ROLLED_BACK', fromVersion: 'v1.15.3', toVersion: 'v1.16.2', component: 'kube-scheduler' });
    // Rollback is idempotent per run (a coordinator killed during it sends it again).
    expect((await conn.rollback('run.cp0.cp1.kube-scheduler.a1')).phase).toBe('RUN_ROLLED_BACK');
    expect(sha256(await readFile(h.node.host('/usr/local/bin/kube-scheduler')))).toBe(sha256(oldBin));
    expect(await failure(conn.release('kube-scheduler'))).toBe('ok');
    expect(h.node.units.get('kube-scheduler.service')).toMatchObject({ active: true, crash: false });
  }, 60_000);
});
