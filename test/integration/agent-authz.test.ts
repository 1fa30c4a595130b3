/**
 * kip's PKI (kip pki, lib/pki) and the agent's roles over real mutual TLS on 127.0.0.1: the real
 * server wiring of agent/main.ts (AgentTls + withAuthz + withCertExpiry) around the agent of the
 * unit-test harness. No certificate, another CA, an expired certificate, a viewer calling the
 * mutating calls, a coordinator calling them, a name the server certificate does not carry, and
 * a SIGHUP certificate rotation in the middle of a running Upgrade stream.
 */
import * as grpc from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { waitFor } from '../../lib/poll.ts';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withAuthz, PERMISSION_DENIED_CODE } from '../../agent/authz.ts';
import { createAgentHandlers, startAgentServer, type RunningServer } from '../../agent/server.ts';
import { AgentTls, withCertExpiry } from '../../agent/tls.ts';
import { nodeFileSystem } from '../../agent/upgrade/fs.ts';
import { kubeletBinaryPort } from '../../agent/upgrade/wiring.ts';
import { runPkiCommand, parsePkiArgs } from '../../coordinator/commands/pki.ts';
import { AgentConnection, type StepEvent } from '../../coordinator/fleet/client.ts';
import { AgentCallError } from '../../coordinator/fleet/errors.ts';
import { FakeClock } from '../../lib/clock.ts';
import { execaExec } from '../../lib/exec.ts';
import { silentLogger } from '../../lib/logger.ts';
import { readCheckedTls } from '../../lib/pki/files.ts';
import type { CliIo } from '../../coordinator/io.ts';
import { fakeBinary, makeHarness, sha256, type Harness } from '../unit/upgrade-fakes.ts';

let tmp = '';
let pkiDir = '';
let h: Harness;
let server: RunningServer;
let tls: AgentTls;
const conns: AgentConnection[] = [];
const io: CliIo = { stdout: () => undefined, stderr: () => undefined, readInput: async () => '' };

async function kipPki(args: string, clock?: FakeClock): Promise<void> {
  await runPkiCommand(parsePkiArgs([...args.split(' '), '--dir', pkiDir]), io, clock);
}

async function pem(base: string, dir = pkiDir): Promise<{ ca: Buffer; cert: Buffer; key: Buffer }> {
  return { ca: await readFile(path.join(pkiDir, 'ca.crt')), cert: await readFile(path.join(dir, `${base}.crt`)), key: await readFile(path.join(dir, `${base}.key`)) };
}

function connect(material: { ca: Buffer; cert: Buffer; key: Buffer }): AgentConnection {
  const c = new AgentConnection({ address: `127.0.0.1:${server.port}`, tls: material, maxRetries: 0 });
  conns.push(c);
  return c;
}

async function failure(p: Promise<unknown>): Promise<AgentCallError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  if (!(e instanceof AgentCallError)) throw new Error(`expected an AgentCallError, got ${String(e)}`);
  return e;
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'kip-authz-'));
  pkiDir = path.join(tmp, 'pki');
  await kipPki('init');
  await kipPki('issue --agent node-1 --ip 127.0.0.1 --dns localhost');
  await kipPki('issue --coordinator lead');
  await kipPki('issue --viewer dash');
  // Expired: issued for one day, a year ago.
  await kipPki('issue --coordinator old --days 1', new FakeClock(Date.now() - 365 * 86_400_000));
  h = await makeHarness();
  const made = h.makeAgent({ kubelet: kubeletBinaryPort(execaExec), stableMs: 2_500, verifyTimeoutMs: 15_000 });
  await made.agent.start();
  tls = await AgentTls.load({ ca: path.join(pkiDir, 'ca.crt'), cert: path.join(pkiDir, 'agent-node-1.crt'), key: path.join(pkiDir, 'agent-node-1.key') }, silentLogger());
  const handlers = withAuthz(withCertExpiry(createAgentHandlers(made.agent, made.stage, silentLogger()), tls), silentLogger());
  server = await startAgentServer({ address: '127.0.0.1:0', tls: tls.serverCredentials(), handlers, logger: silentLogger() });
}, 60_000);

afterAll(async () => {
  for (const c of conns) c.close();
  await server?.shutdown(2_000);
  await h?.cleanup();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('kip pki files', () => {
  it('writes keys 0600 and refuses to overwrite without --force', async () => {
    for (const f of ['ca.key', 'agent-node-1.key', 'coordinator-lead.key', 'viewer-dash.key']) expect((await stat(path.join(pkiDir, f))).mode & 0o777).toBe(0o600);
    await expect(kipPki('issue --viewer dash')).rejects.toThrow(/exists; remove it or pass --force/);
  });

  it('names the file when a key does not match its certificate or the CA did not sign it', async () => {
    const files = { ca: path.join(pkiDir, 'ca.crt'), cert: path.join(pkiDir, 'agent-node-1.crt'), key: path.join(pkiDir, 'viewer-dash.key') };
    await expect(readCheckedTls(files)).rejects.toThrow(/viewer-dash.key does not belong to certificate/);
    const other = path.join(tmp, 'other');
    await runPkiCommand(parsePkiArgs(['init', '--dir', other]), io);
    await expect(readCheckedTls({ ...files, key: path.join(pkiDir, 'agent-node-1.key'), ca: path.join(other, 'ca.crt') })).rejects.toThrow(/is not signed by CA/);
    await expect(readCheckedTls({ ...files, ca: path.join(tmp, 'nope.crt') })).rejects.toThrow(/nope.crt cannot be read \(ENOENT\)/);
  });
});

describe('who may call the agent', () => {
  it('refuses a client without a certificate', async () => {
    const proto = (await import('../../proto/kip/loader.ts')).loadKipGrpcObject() as unknown as import('../../proto/kip/generated/agent.ts').ProtoGrpcType;
    const raw = new proto.kip.v1.Agent(`127.0.0.1:${server.port}`, grpc.credentials.createSsl(await readFile(path.join(pkiDir, 'ca.crt'))));
    const err = await new Promise<grpc.ServiceError | null>((resolve) => raw.GetNode({}, { deadline: Date.now() + 5_000 }, (e) => resolve(e)));
    raw.close();
    expect(err?.code).toBe(grpc.status.UNAVAILABLE);
    expect((await connect(await pem('viewer-dash')).getNode()).nodeName).toBe('node-1');
  });

  it('refuses a certificate from another CA and an expired one', async () => {
    const other = path.join(tmp, 'rogue');
    await runPkiCommand(parsePkiArgs(['init', '--dir', other]), io);
    await runPkiCommand(parsePkiArgs(['issue', '--coordinator', 'lead', '--dir', other]), io);
    const rogue = { ca: await readFile(path.join(pkiDir, 'ca.crt')), cert: await readFile(path.join(other, 'coordinator-lead.crt')), key: await readFile(path.join(other, 'coordinator-lead.key')) };
    // The handshake fails, so the refusal surfaces as UNAVAILABLE (AGENT_TLS_REFUSED when the message names TLS).
    for (const e of [await failure(connect(rogue).getNode()), await failure(connect(await pem('coordinator-old')).getNode())]) {
      expect(e.grpcStatus).toBe(grpc.status.UNAVAILABLE);
      expect(['AGENT_TLS_REFUSED', 'AGENT_UNAVAILABLE']).toContain(e.code);
    }
    // Control: the same server accepts a valid certificate.
    expect((await connect(await pem('coordinator-lead')).getNode()).nodeName).toBe('node-1');
  });

  it('lets a viewer read, and refuses it StageBinary, Upgrade, Rollback and Heal with PERMISSION_DENIED', async () => {
    const viewer = connect(await pem('viewer-dash'));
    const node = await viewer.getNode();
    expect(node.tlsCertNotAfterUnixMs).toBe(Date.parse(new X509Certificate(await readFile(path.join(pkiDir, 'agent-node-1.crt'))).validTo));
    const bin = fakeBinary('v1.11.10');
    const errs = [
      await failure(viewer.stageBinary({ version: 'v1.11.10', sha256: sha256(bin), size: bin.length }, bin)),
      await failure(viewer.upgrade({ runId: 'v-1', targetVersion: 'v1.11.10' }).next()),
      await failure(viewer.rollback('v-1')),
      await failure(viewer.heal({ mode: 'HEAL_RESTART', healId: 'v-heal' })),
    ];
    for (const e of errs) {
      expect(e.grpcStatus).toBe(grpc.status.PERMISSION_DENIED);
      expect(e.code).toBe(PERMISSION_DENIED_CODE);
      expect(e.details).toMatchObject({ role: 'viewer' });
      expect(String(e.details.subject)).toContain('CN=dash');
    }
    expect((await viewer.getNode()).staged).toEqual([]);
  });

  it('refuses a server whose certificate does not carry the dialled name', async () => {
    const bad = new AgentConnection({ address: `127.0.0.1:${server.port}`, tls: await pem('coordinator-lead'), serverName: 'other.example', maxRetries: 0 });
    conns.push(bad);
    expect((await failure(bad.getNode())).grpcStatus).toBe(grpc.status.UNAVAILABLE);
    const good = new AgentConnection({ address: `127.0.0.1:${server.port}`, tls: await pem('coordinator-lead'), serverName: 'localhost', maxRetries: 0 });
    conns.push(good);
    expect((await good.getNode()).nodeName).toBe('node-1');
  });

  it('lets a coordinator stage and upgrade; a SIGHUP rotation mid-stream keeps the stream and serves the new certificate', async () => {
    const lead = connect(await pem('coordinator-lead'));
    const bin = fakeBinary('v1.11.10');
    expect((await lead.stageBinary({ version: 'v1.11.10', sha256: sha256(bin), size: bin.length }, bin)).binary?.sha256).toBe(sha256(bin));
    const onHup = () => void tls.reload();
    process.on('SIGHUP', onHup);
    try {
      const before = tls.notAfterMs;
      const events: StepEvent[] = [];
      let rotated = false;
      for await (const ev of lead.upgrade({ runId: 'lead-1', targetVersion: 'v1.11.10' })) {
        events.push(ev);
        if (!rotated) {
          rotated = true;
          // New agent certificate (a longer validity), swapped in place, then SIGHUP.
          await runPkiCommand(parsePkiArgs(['issue', '--agent', 'node-1', '--ip', '127.0.0.1', '--days', '30', '--dir', pkiDir, '--force']), io);
          process.kill(process.pid, 'SIGHUP');
          await waitFor('the certificates to reload', async () => (tls.notAfterMs !== before ? true : undefined), { timeoutMs: 5_000, intervalMs: 20 });
        }
      }
      expect(rotated).toBe(true);
      expect(tls.notAfterMs).not.toBe(before);
      expect((await lead.getRun('lead-1')).phase).toBe('RUN_SUCCEEDED');
      expect(events.at(-1)?.step).toBeDefined();
      // A new connection is served the new certificate.
      const served = await new Promise<string>((resolve, reject) => {
        const s = tlsConnect({ host: '127.0.0.1', port: server.port, servername: 'localhost', ALPNProtocols: ['h2'], rejectUnauthorized: false }, () => {
          const c = s.getPeerX509Certificate();
          s.destroy();
          if (c) resolve(c.validTo);
          else reject(new Error('no peer certificate'));
        });
        s.on('error', reject);
      });
      expect(Date.parse(served)).toBe(tls.notAfterMs);
    } finally {
      process.off('SIGHUP', onHup);
    }
  }, 60_000);
});

