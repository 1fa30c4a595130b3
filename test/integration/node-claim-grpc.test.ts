/**
 * The node claim over gRPC and mutual TLS (the coordinator's own AgentConnection against the
 * agent's server): while a Heal restarts the kubelet, Rollback, Upgrade and RemoveStaged are
 * refused with FAILED_PRECONDITION / RUN_IN_PROGRESS naming the heal, and the kubelet is stopped and
 * started once; a Heal and an Upgrade sent at the same moment: exactly one goes ahead. On 722de16
 * the Rollback and the RemoveStaged went ahead during the heal (nothing but Upgrade checked it).
 */
import * as grpc from '@grpc/grpc-js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readHealFacts } from '../../agent/heal/facts.ts';
import { HealService } from '../../agent/heal/heal.ts';
import { createAgentHandlers, startAgentServer, type RunningServer } from '../../agent/server.ts';
import type { UpgradeAgent } from '../../agent/upgrade/agent.ts';
import { nodeFileSystem } from '../../agent/upgrade/fs.ts';
import type { HealthPort } from '../../agent/upgrade/ports.ts';
import type { StageStore } from '../../agent/upgrade/stage.ts';
import { AgentConnection } from '../../coordinator/fleet/client.ts';
import { systemClock } from '../../lib/clock.ts';
import { silentLogger } from '../../lib/logger.ts';
import { waitFor } from '../../lib/poll.ts';
import { makeTestPki, type TestPki } from '../../scripts/nspawn/test-pki.ts';
import { collect, fakeBinary, makeHarness, type Harness } from '../unit/upgrade-fakes.ts';

const NEW = 'v1.11.10';
let tmp = '';
let pki: TestPki;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'kip-claim-grpc-'));
  pki = await makeTestPki(path.join(tmp, 'pki'));
}, 60_000);
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

interface Rig {
  readonly h: Harness;
  readonly agent: UpgradeAgent;
  readonly stage: StageStore;
  readonly client: AgentConnection;
  readonly server: RunningServer;
  /** Lets the heal's health probe answer (it waits until then). */
  readonly healthy: () => void;
}

async function rig(): Promise<Rig> {
  const h = await makeHarness();
  const { agent, stage } = h.makeAgent();
  await agent.start();
  await h.stageBuffer(stage, NEW, fakeBinary(NEW));
  let healthy: () => void = () => {};
  const gate = new Promise<void>((r) => { healthy = r; });
  const probe = h.node.health;
  const health: HealthPort = { healthz: async (url, ms) => { await gate; return probe.healthz(url, ms); } };
  const heal = new HealService({
    fs: nodeFileSystem, systemd: h.node.systemd, health, clock: systemClock, logger: silentLogger(),
    // The fake node has no workload API: the gate's hash facts are given (a clean node).
    facts: async () => ({ ...(await readHealFacts({ runInProgress: () => agent.runInProgress(), nodeInfo: () => agent.nodeInfo(), containers: async () => [] })), hashes: { oldHash: [], undecodable: 0, allConsistent: true, problems: [] } }),
    containers: async () => [],
    config: { stateDir: h.stateDir, kubeletUnit: 'kubelet.service', healthzUrl: 'http://127.0.0.1:10248/healthz', verifyTimeoutMs: 10_000, pollMs: 5 },
    claim: agent.claim,
  });
  const server = await startAgentServer({ address: '127.0.0.1:0', tls: pki.server, handlers: createAgentHandlers(agent, stage, silentLogger(), { heal }), logger: silentLogger() });
  const client = new AgentConnection({ address: `127.0.0.1:${server.port}`, tls: pki.client, maxRetries: 0, backoffMs: 50 });
  return { h, agent, stage, client, server, healthy };
}

async function end(r: Rig | undefined): Promise<void> {
  if (!r) return;
  r.healthy();
  await r.agent.whenIdle();
  r.client.close();
  await r.server.shutdown(2_000);
  await r.h.cleanup();
}

const refusedBy = (holderId: string) => ({ code: 'RUN_IN_PROGRESS', kind: 'precondition', grpcStatus: grpc.status.FAILED_PRECONDITION, message: expect.stringContaining(holderId) });

describe('the node claim over gRPC', () => {
  it('while a Heal restarts the kubelet, Rollback, Upgrade and RemoveStaged are refused naming it', async () => {
    let r: Rig | undefined;
    try {
      r = await rig();
      const { client, h, agent } = r;
      for await (const _ of client.upgrade({ runId: 'r1', targetVersion: NEW }));
      expect((await client.getRun('r1')).phase).toBe('RUN_SUCCEEDED');
      h.node.events.length = 0;
      const healing = client.heal({ mode: 'HEAL_RESTART', healId: 'h-grpc', dryRun: false, timeoutMs: 0, settleMs: 1 });
      healing.catch(() => undefined);
      await waitFor('the heal to stop and start the kubelet', async () => (h.node.events.includes('start') ? true : undefined), { timeoutMs: 30_000, intervalMs: 5 });
      // The heal now waits for the kubelet's health, holding the node.
      await expect(client.rollback('r1')).rejects.toMatchObject(refusedBy('heal h-grpc'));
      await expect(client.upgrade({ runId: 'r2', targetVersion: 'v1.12.10' }).next()).rejects.toMatchObject(refusedBy('heal h-grpc'));
      await expect(client.removeStaged(NEW)).rejects.toMatchObject(refusedBy('heal h-grpc'));
      r.healthy();
      expect(await healing).toMatchObject({ healId: 'h-grpc', restarted: true });
      expect(h.node.events).toEqual(['stop', 'start']);
      expect((await client.getRun('r1')).phase).toBe('RUN_SUCCEEDED');
      // Free again: the rollback goes ahead.
      expect((await client.rollback('r1')).phase).toBe('RUN_ROLLED_BACK');
      expect(agent.claim.holder).toBeUndefined();
    } finally {
      await end(r);
    }
  }, 120_000);

  it('a Heal and an Upgrade sent at the same moment: exactly one goes ahead, the other is refused naming it', async () => {
    let r: Rig | undefined;
    try {
      r = await rig();
      const { client, h, agent } = r;
      const heal = client.heal({ mode: 'HEAL_RESTART', healId: 'h-race', dryRun: false, timeoutMs: 0, settleMs: 1 });
      const upgrade = client.upgrade({ runId: 'r-race', targetVersion: NEW }).next();
      r.healthy();
      const [healed, upgraded] = await Promise.allSettled([heal, upgrade]);
      const outcomes = [healed, upgraded].map((x) => x.status);
      expect(outcomes.filter((s) => s === 'fulfilled')).toHaveLength(1);
      const refusal = (healed.status === 'rejected' ? healed.reason : upgraded.status === 'rejected' ? upgraded.reason : undefined) as unknown;
      expect(refusal).toMatchObject(refusedBy(healed.status === 'fulfilled' ? 'heal h-race' : 'run r-race'));
      if (upgraded.status === 'fulfilled') expect((await collect(agent.events('r-race'))).at(-1)).toMatchObject({ phase: 'RUN_SUCCEEDED' });
      await agent.whenIdle();
      expect(h.node.events).toEqual(['stop', 'start']);
    } finally {
      await end(r);
    }
  }, 120_000);
});
