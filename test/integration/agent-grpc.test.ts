/**
 * The real gRPC server over mutual TLS on 127.0.0.1, with a real on-disk state dir and real
 * `--version` runs of staged binaries; the kubelet unit is the fake node of the unit tests (the
 * nspawn test drives a real systemd).
 */
import * as grpc from '@grpc/grpc-js';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execaExec } from '../../lib/exec.ts';
import { silentLogger } from '../../lib/logger.ts';
import { createAgentHandlers, startAgentServer, type RunningServer } from '../../agent/server.ts';
import { nodeFileSystem } from '../../agent/upgrade/fs.ts';
import { kubeletBinaryPort } from '../../agent/upgrade/wiring.ts';
import { AgentConnection, type StepEvent } from '../../coordinator/fleet/client.ts';
import { AgentCallError } from '../../coordinator/fleet/errors.ts';
import type { UpgradeAgent } from '../../agent/upgrade/agent.ts';
import { fakeBinary, makeHarness, sha256, type Harness } from '../unit/upgrade-fakes.ts';
import { makeTestPki, type TestPki } from '../../scripts/nspawn/test-pki.ts';

let tmp: string;
let pki: TestPki;
let h: Harness;
let agent: UpgradeAgent;
let server: RunningServer;
let client: AgentConnection;
const connections: AgentConnection[] = [];

function connect(tls: { ca: Buffer; cert: Buffer; key: Buffer }, port = server.port, extra: Partial<ConstructorParameters<typeof AgentConnection>[0]> = {}): AgentConnection {
  const c = new AgentConnection({ address: `127.0.0.1:${port}`, tls, maxRetries: 1, backoffMs: 50, ...extra });
  connections.push(c);
  return c;
}

/** A binary of `size` bytes: the fake kubelet script padded with a comment line. */
function bigBinary(version: string, size: number): Buffer {
  const head = fakeBinary(version);
  return Buffer.concat([head, Buffer.from('#'), Buffer.alloc(size - head.length - 2, 'x'), Buffer.from('\n')]);
}

async function stagedDirs(): Promise<string[]> {
  return (await readdir(path.join(h.stateDir, 'binaries')).catch(() => [])).sort();
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'kip-agent-grpc-'));
  pki = await makeTestPki(path.join(tmp, 'pki'));
  h = await makeHarness();
  const made = h.makeAgent({ kubelet: kubeletBinaryPort(execaExec), stableMs: 1_500, verifyTimeoutMs: 10_000 });
  agent = made.agent;
  await agent.start();
  server = await startAgentServer({ address: '127.0.0.1:0', tls: pki.server, handlers: createAgentHandlers(agent, made.stage, silentLogger()), logger: silentLogger() });
  client = connect(pki.client);
}, 60_000);

afterAll(async () => {
  for (const c of connections) c.close();
  await server?.shutdown(2_000);
  await h?.cleanup();
  await rm(tmp, { recursive: true, force: true });
});

describe('kip-agent over mutual TLS', () => {
  it('GetNode reports the running kubelet (version from a real --version run), unit, skip file and disks', async () => {
    const n = await client.getNode();
    expect(n).toMatchObject({
      nodeName: 'node-1',
      kubeletBinary: '/usr/bin/kubelet',
      kubeletVersion: 'v1.10.13',
      kubeletSha256: sha256(h.oldBinary),
      kubeletPatched: true,
      unit: { name: 'kubelet.service', activeState: 'active' },
      skipFile: { path: '/tmp/cache.version.save', present: false },
      lastRunId: '',
    });
    expect(n.disks.length).toBeGreaterThan(0);
    expect(n.disks[0]?.freeBytes).toBeGreaterThan(0);
  });

  it('refuses a client without a certificate, and one from another CA; nothing changes', async () => {
    const before = await stagedDirs();
    // No client certificate at all: grpc-js's createSsl(ca) without key/cert.
    const proto = (await import('../../proto/kip/loader.ts')).loadKipGrpcObject() as unknown as import('../../proto/kip/generated/agent.ts').ProtoGrpcType;
    const raw = new proto.kip.v1.Agent(`127.0.0.1:${server.port}`, grpc.credentials.createSsl(pki.caCert));
    const err = await new Promise<grpc.ServiceError | null>((resolve) => raw.getNode({}, { deadline: Date.now() + 10_000 }, (e) => resolve(e)));
    raw.close();
    expect(err?.code).toBe(grpc.status.UNAVAILABLE);
    const rogue = connect(pki.rogueClient, server.port, { maxRetries: 0 });
    const e2 = await rogue.getNode().catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(AgentCallError);
    expect(e2).toMatchObject({ kind: "unavailable" });
    expect((e2 as AgentCallError).code).toMatch(/^AGENT_(TLS_REFUSED|UNAVAILABLE)$/);
    const e3 = await rogue.stageBinary({ version: 'v1.11.10', sha256: sha256(fakeBinary('v1.11.10')), size: fakeBinary('v1.11.10').length }, fakeBinary('v1.11.10')).catch((e: unknown) => e);
    expect(e3).toMatchObject({ kind: 'unavailable' });
    expect(await stagedDirs()).toEqual(before);
  });

  it('StageBinary streams 3 MB in chunks, checks it, and is idempotent', async () => {
    const bin = bigBinary('v1.11.10', 3 * 1024 * 1024 + 17);
    const r = await client.stageBinary({ version: 'v1.11.10', sha256: sha256(bin), size: bin.length }, bin);
    expect(r).toMatchObject({ alreadyStaged: false, binary: { version: 'v1.11.10', sha256: sha256(bin), size: bin.length, patched: true } });
    expect(r.path).toBe(path.join(h.stateDir, 'binaries/v1.11.10/kubelet'));
    const again = await client.stageBinary({ version: 'v1.11.10', sha256: sha256(bin), size: bin.length }, bin);
    expect(again.alreadyStaged).toBe(true);
    expect((await client.getNode()).staged.map((s) => s.version)).toEqual(['v1.11.10']);
  });

  it.each([
    ['wrong sha256', 'v1.11.9', (b: Buffer) => ({ sha256: sha256('nope'), size: b.length, data: b }), 'STAGE_SHA256_MISMATCH'],
    ['truncated upload', 'v1.11.9', (b: Buffer) => ({ sha256: sha256(b), size: b.length, data: b.subarray(0, b.length - 1000) }), 'STAGE_SIZE_MISMATCH'],
    ['version mismatch', 'v1.11.8', (b: Buffer) => ({ sha256: sha256(b), size: b.length, data: b }), 'STAGE_VERSION_MISMATCH'],
  ])('StageBinary refuses a %s with INVALID_ARGUMENT and leaves nothing behind', async (_name, claimed, make, code) => {
    const before = await stagedDirs();
    const bin = bigBinary('v1.11.9', 2 * 1024 * 1024);
    const { sha256: sum, size, data } = make(bin);
    const err = await client.stageBinary({ version: claimed, sha256: sum, size }, data).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentCallError);
    expect(err).toMatchObject({ code, kind: 'invalid', grpcStatus: grpc.status.INVALID_ARGUMENT });
    expect(await stagedDirs()).toEqual(before);
  });

  it('Preflight reports every check; Upgrade refuses a skew with a clear status', async () => {
    const report = await client.preflight({ targetVersion: 'v1.11.10' });
    expect(report.ok).toBe(true);
    expect(report.currentVersion).toBe('v1.10.13');
    expect(report.checks.map((c) => c.name)).toContain('patched-binary');
    const bad = await client.preflight({ targetVersion: 'v1.12.10' });
    expect(bad.ok).toBe(false);
    const events = client.upgrade({ runId: 'skew', targetVersion: 'v1.12.10' });
    const err = await events.next().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SKEW_TOO_LARGE', kind: 'invalid' });
    await expect(client.getRun('skew')).rejects.toMatchObject({ code: 'RUN_NOT_FOUND', kind: 'not_found' });
  });

  it('Upgrade streams the steps; a second run is refused while it runs; re-attaching replays', async () => {
    const seen: StepEvent[] = [];
    let refused: unknown;
    for await (const ev of client.upgrade({ runId: 'run-1', targetVersion: 'v1.11.10' })) {
      seen.push(ev);
      if (ev.step === 'VERIFY' && ev.status === 'STEP_STARTED') {
        refused = await client.upgrade({ runId: 'run-2', targetVersion: 'v1.11.10' }).next().catch((e: unknown) => e);
      }
    }
    expect(refused).toMatchObject({ code: 'RUN_IN_PROGRESS', kind: 'precondition', grpcStatus: grpc.status.FAILED_PRECONDITION });
    expect((refused as Error).message).toContain('run-1');
    expect(seen.at(-1)).toMatchObject({ step: 'DONE', phase: 'RUN_SUCCEEDED' });
    const replay: StepEvent[] = [];
    for await (const ev of client.upgrade({ runId: 'run-1', targetVersion: 'v1.11.10' })) replay.push(ev);
    expect(replay).toEqual(seen);
    const run = await client.getRun();
    expect(run).toMatchObject({ runId: 'run-1', phase: 'RUN_SUCCEEDED', fromVersion: 'v1.10.13', toVersion: 'v1.11.10' });
    expect((await client.getNode()).kubeletVersion).toBe('v1.11.10');
    const rolled = await client.rollback('run-1');
    expect(rolled.phase).toBe('RUN_ROLLED_BACK');
    expect((await client.getNode()).kubeletVersion).toBe('v1.10.13');
  });

  it('gives every call a deadline: a silent agent yields AGENT_DEADLINE_EXCEEDED, not a hang', async () => {
    const handlers = createAgentHandlers(agent, h.makeAgent().stage, silentLogger());
    const silent = await startAgentServer({ address: '127.0.0.1:0', tls: pki.server, handlers: { ...handlers, GetNode: () => {} }, logger: silentLogger() });
    try {
      const c = connect(pki.client, silent.port, { defaultDeadlineMs: 500, maxRetries: 3 });
      const started = Date.now();
      const err = await c.getNode().catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'AGENT_DEADLINE_EXCEEDED', kind: 'deadline' });
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await silent.shutdown(500);
    }
  });

  it('retries an idempotent call until the agent is up, within the deadline', async () => {
    // A port that nothing listens on yet.
    const probe = await startAgentServer({ address: '127.0.0.1:0', tls: pki.server, handlers: createAgentHandlers(agent, h.makeAgent().stage, silentLogger()), logger: silentLogger() });
    const port = probe.port;
    await probe.shutdown(1_000);
    const late = connect(pki.client, port, { maxRetries: 8, backoffMs: 150, defaultDeadlineMs: 30_000 });
    const pending = late.getNode();
    await new Promise((r) => setTimeout(r, 400));
    const second = await startAgentServer({ address: `127.0.0.1:${port}`, tls: pki.server, handlers: createAgentHandlers(agent, h.makeAgent().stage, silentLogger()), logger: silentLogger() });
    try {
      await expect(pending).resolves.toMatchObject({ nodeName: 'node-1' });
    } finally {
      await second.shutdown(1_000);
    }
  }, 40_000);
});
