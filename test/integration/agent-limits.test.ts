/**
 * Bounded work per caller, request floors, client mistakes as INVALID_ARGUMENT, an audit trail
 * with the caller's certificate subject, and one driver per run (issue 8, defects 10, 13, 14, 15,
 * 16), over the real gRPC server with mutual TLS on 127.0.0.1 and real `--version` runs. Each
 * test says what 9fc2631 did instead.
 */
import * as grpc from '@grpc/grpc-js';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatedExec, type Exec } from '../../lib/exec.ts';
import { createLogger, silentLogger } from '../../lib/logger.ts';
import { auditedExec } from '../../agent/audit.ts';
import { createAgentHandlers, startAgentServer, type RunningServer } from '../../agent/server.ts';
import { nodeFileSystem } from '../../agent/upgrade/fs.ts';
import { StageStore } from '../../agent/upgrade/stage.ts';
import { kubeletBinaryPort } from '../../agent/upgrade/wiring.ts';
import type { UpgradeAgent } from '../../agent/upgrade/agent.ts';
import { AgentConnection, type StepEvent } from '../../coordinator/fleet/client.ts';
import { loadKipGrpcObject } from '../../proto/kip/loader.ts';
import type { ProtoGrpcType } from '../../proto/kip/generated/agent.ts';
import type { AgentClient } from '../../proto/kip/generated/kip/v1/Agent.ts';
import { ERROR_CODE_KEY } from '../../proto/kip/errors.ts';
import { fakeBinary, makeHarness, SKIP, sha256, type Harness } from '../unit/upgrade-fakes.ts';
import { makeTestPki, type TestPki } from '../../scripts/nspawn/test-pki.ts';

let tmp: string;
let pki: TestPki;
let h: Harness;
let agent: UpgradeAgent;
let stage: StageStore;
let server: RunningServer;
let client: AgentConnection;
let rawClient: AgentClient;
let spawns = 0;
let inFlight = 0;
let maxInFlight = 0;
const logLines: Record<string, unknown>[] = [];
const QUOTA = 4 * fakeBinary('v1.11.10').length;

const counting = (exec: Exec): Exec => async (command, args, options) => {
  spawns += 1;
  inFlight += 1;
  maxInFlight = Math.max(maxInFlight, inFlight);
  try {
    return await exec(command, args, options);
  } finally {
    inFlight -= 1;
  }
};

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'kip-agent-limits-'));
  pki = await makeTestPki(path.join(tmp, 'pki'));
  h = await makeHarness();
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger({ name: 'kip-agent', level: 'info', destination: sink });
  const kubelet = kubeletBinaryPort(auditedExec(counting(isolatedExec), logger), 2_000);
  const made = h.makeAgent({ kubelet, stableMs: 300, verifyTimeoutMs: 10_000 });
  agent = made.agent;
  await agent.start();
  // The agent's own store and this one share the directory; this one has the quota.
  stage = new StageStore({ fs: nodeFileSystem, kubelet, stateDir: h.stateDir, skipFilePath: SKIP, logger, quotaBytes: QUOTA });
  server = await startAgentServer({
    address: '127.0.0.1:0',
    tls: pki.server,
    handlers: createAgentHandlers(agent, stage, logger, { stageIdleTimeoutMs: 1_000, nodeInfoCacheMs: 1_000 }),
    logger: silentLogger(),
    tlsHandshakeTimeoutMs: 500,
  });
  client = new AgentConnection({ address: `127.0.0.1:${server.port}`, tls: pki.client, maxRetries: 0 });
  const proto = loadKipGrpcObject() as unknown as ProtoGrpcType;
  rawClient = new proto.kip.v1.Agent(`127.0.0.1:${server.port}`, grpc.credentials.createSsl(pki.caCert, pki.client.key, pki.client.cert));
}, 60_000);

afterAll(async () => {
  client?.close();
  rawClient?.close();
  await server?.shutdown(2_000);
  await h?.cleanup();
  await rm(tmp, { recursive: true, force: true });
});

async function tempFiles(): Promise<string[]> {
  return (await readdir(path.join(h.stateDir, 'binaries'), { recursive: true }).catch(() => [] as string[])).map(String).filter((f) => f.includes('.kip-tmp-'));
}

function removeStaged(version: string): Promise<{ removed: boolean; freedBytes: string | number }> {
  return new Promise((resolve, reject) =>
    rawClient.removeStaged({ version }, { deadline: Date.now() + 10_000 }, (err, res) => (err ? reject(err) : resolve(res as { removed: boolean; freedBytes: string | number }))),
  );
}

describe('kip-agent limits', () => {
  it('500 concurrent GetNode calls run a bounded number of processes (9fc2631: one --version each)', async () => {
    spawns = 0;
    const all = await Promise.all(Array.from({ length: 500 }, () => client.getNode()));
    expect(spawns).toBeLessThanOrEqual(2);
    expect(all.every((n) => n.kubeletVersion === 'v1.10.13')).toBe(true);
  }, 60_000);

  it('100 concurrent Preflight calls run at most 2 at a time (9fc2631: all at once)', async () => {
    maxInFlight = 0;
    const all = await Promise.all(Array.from({ length: 100 }, () => client.preflight({ targetVersion: 'v1.11.10' })));
    expect(all.every((r) => r.currentVersion === 'v1.10.13')).toBe(true);
    expect(maxInFlight).toBeGreaterThan(0);
    expect(maxInFlight).toBeLessThanOrEqual(2);
  }, 60_000);

  it('ends a StageBinary stream that goes silent, with a kip code, and removes its temp file (9fc2631: held open)', async () => {
    const bin = fakeBinary('v1.11.10');
    const started = Date.now();
    const err = await new Promise<grpc.ServiceError | null>((resolve) => {
      const call = rawClient.stageBinary({ deadline: Date.now() + 15_000 }, (e) => resolve(e));
      call.write({ metadata: { version: 'v1.11.10', sha256: sha256(bin), size: bin.length } });
      call.write({ data: bin.subarray(0, 10) });
    });
    expect(err?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(err?.metadata.get(ERROR_CODE_KEY)[0]).toBe('STAGE_IDLE_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await tempFiles()).toEqual([]);
  }, 30_000);

  it('closes a connection that never finishes the TLS handshake (9fc2631: held 120 s)', async () => {
    const started = Date.now();
    await new Promise<void>((resolve, reject) => {
      const s = netConnect(server.port, '127.0.0.1');
      s.on('error', () => {});
      s.on('close', () => resolve());
      setTimeout(() => reject(new Error('still open after 10 s')), 10_000).unref();
    });
    expect(Date.now() - started).toBeLessThan(5_000);
  }, 15_000);

  it('enforces the staging quota (RESOURCE_EXHAUSTED), and RemoveStaged frees space (9fc2631: neither existed)', async () => {
    const versions = ['v1.11.1', 'v1.11.2', 'v1.11.3', 'v1.11.4'];
    for (const v of versions) await client.stageBinary({ version: v, sha256: sha256(fakeBinary(v)), size: fakeBinary(v).length }, fakeBinary(v));
    const over = fakeBinary('v1.11.5');
    const err = await client.stageBinary({ version: 'v1.11.5', sha256: sha256(over), size: over.length }, over).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'STAGE_QUOTA_EXCEEDED', kind: 'exhausted', grpcStatus: grpc.status.RESOURCE_EXHAUSTED });
    expect(await removeStaged('v1.11.1')).toMatchObject({ removed: true });
    expect(await removeStaged('v1.11.1')).toMatchObject({ removed: false });
    expect((await client.stageBinary({ version: 'v1.11.5', sha256: sha256(over), size: over.length }, over)).alreadyStaged).toBe(false);
    const staged = (await client.getNode()).staged.map((s) => s.version);
    expect(staged).toEqual(['v1.11.2', 'v1.11.3', 'v1.11.4', 'v1.11.5']);
    for (const v of staged) await removeStaged(v);
    expect((await client.getNode()).staged).toEqual([]);
  });

  it('refuses verify_timeout_ms below the config floor with INVALID_ARGUMENT naming the floor (9fc2631: a run that rolls back a healthy kubelet)', async () => {
    const err = await client.upgrade({ runId: 'floor-1', targetVersion: 'v1.11.10', verifyTimeoutMs: 1 }).next().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'REQUEST_VALUE_BELOW_FLOOR', kind: 'invalid', details: { field: 'verify_timeout_ms', floor: 1000 } });
    expect((err as Error).message).toContain('1000 ms');
    await expect(client.getRun('floor-1')).rejects.toMatchObject({ code: 'RUN_NOT_FOUND' });
  });

  it.each([
    ['a 10 kB staged version', () => {
      const v = `v1.11.10-${'a'.repeat(10_000)}`;
      return client.stageBinary({ version: v, sha256: sha256(fakeBinary(v)), size: fakeBinary(v).length }, fakeBinary(v));
    }],
    ['a 10 kB Preflight target', () => client.preflight({ targetVersion: `v1.11.10-${'a'.repeat(10_000)}` })],
    ['a 10 kB Upgrade target', () => client.upgrade({ runId: 'long-1', targetVersion: `v1.11.10-${'a'.repeat(10_000)}` }).next()],
    ['a 10 kB run id (GetRun)', () => client.getRun('r'.repeat(10_000))],
    ['a 10 kB run id (Upgrade)', () => client.upgrade({ runId: 'r'.repeat(10_000), targetVersion: 'v1.11.10' }).next()],
    ['a staged binary that exits non-zero on --version', () => {
      const bin = Buffer.from('#!/bin/sh\necho "no version here" >&2\nexit 2\n');
      return client.stageBinary({ version: 'v1.11.10', sha256: sha256(bin), size: bin.length }, bin);
    }],
  ])('reports %s as INVALID_ARGUMENT with a kip code (9fc2631: INTERNAL or no status)', async (_name, make) => {
    const err = await make().catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'invalid', grpcStatus: grpc.status.INVALID_ARGUMENT });
    expect((err as { code: string }).code).toMatch(/^[A-Z_]+$/);
    expect((err as { code: string }).code).not.toBe('INTERNAL');
    expect(await tempFiles()).toEqual([]);
  });

  it('logs every call that runs an uploaded binary, and every mutating call, with the caller\'s certificate subject (9fc2631: Preflight and the --version runs logged nothing)', async () => {
    logLines.length = 0;
    const bin = fakeBinary('v1.11.10');
    await client.stageBinary({ version: 'v1.11.10', sha256: sha256(bin), size: bin.length }, bin);
    await client.preflight({ targetVersion: 'v1.11.10' });
    await removeStaged('v1.11.10');
    const subjectOf = (l: Record<string, unknown>) => String((l.caller as { subject?: unknown } | undefined)?.subject ?? '');
    const execs = logLines.filter((l) => l.msg === 'executing a binary');
    const stagedRun = execs.find((l) => String(l.command).includes('.kip-tmp-upload') && (l.caller as { method?: string }).method === 'StageBinary');
    expect(stagedRun, JSON.stringify(execs)).toBeDefined();
    expect(subjectOf(stagedRun!)).toBe('OU=kip-role:coordinator,CN=kip-coordinator');
    for (const method of ['StageBinary', 'Preflight', 'RemoveStaged']) {
      const line = logLines.find((l) => l.msg === 'call' && l.method === method);
      expect(line, method).toBeDefined();
      expect(subjectOf(line!)).toBe('OU=kip-role:coordinator,CN=kip-coordinator');
      expect((line!.caller as { fingerprint256: string }).fingerprint256).toMatch(/^[0-9A-F:]{95}$/);
    }
    expect(execs.some((l) => (l.caller as { method?: string }).method === 'Preflight')).toBe(true);
  });

  it('two Upgrade calls with one run id in the same tick drive the run once (9fc2631: every step twice)', async () => {
    const bin = fakeBinary('v1.11.10');
    await client.stageBinary({ version: 'v1.11.10', sha256: sha256(bin), size: bin.length }, bin);
    const collect = async (): Promise<StepEvent[]> => {
      const seen: StepEvent[] = [];
      for await (const ev of client.upgrade({ runId: 'twice-1', targetVersion: 'v1.11.10' })) seen.push(ev);
      return seen;
    };
    const [a, b] = await Promise.all([collect(), collect()]);
    expect(a.at(-1)).toMatchObject({ step: 'DONE', phase: 'RUN_SUCCEEDED' });
    expect(b).toEqual(a);
    const run = await client.getRun('twice-1');
    const started = run.events.filter((e) => e.status === 'STEP_STARTED').map((e) => e.step);
    expect(started).toEqual([...new Set(started)]);
    expect(run.events.map((e) => e.seq)).toEqual(run.events.map((_, i) => i + 1));
    expect((await client.rollback('twice-1')).phase).toBe('RUN_ROLLED_BACK');
  }, 60_000);
});
