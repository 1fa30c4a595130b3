/**
 * The coordinator's TLS client (coordinator/fleet/client.ts) dials agents by IP: it must never
 * pass an IP literal as the TLS ServerName (Node's DEP0123, RFC 6066 section 3), and it must still
 * verify the agent's certificate against that IP. Real mutual TLS on 127.0.0.1 against the real
 * agent server wiring, certificates from kip pki.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withAuthz } from '../../agent/authz.ts';
import { createAgentHandlers, startAgentServer, type RunningServer } from '../../agent/server.ts';
import { AgentTls, withCertExpiry } from '../../agent/tls.ts';
import { kubeletBinaryPort } from '../../agent/upgrade/wiring.ts';
import { parsePkiArgs, runPkiCommand } from '../../coordinator/commands/pki.ts';
import { AgentConnection, tlsTarget } from '../../coordinator/fleet/client.ts';
import { execaExec } from '../../lib/exec.ts';
import { silentLogger } from '../../lib/logger.ts';
import type { CliIo } from '../../coordinator/io.ts';
import { makeHarness, type Harness } from '../unit/upgrade-fakes.ts';

let tmp = '';
let pkiDir = '';
let h: Harness;
const servers: RunningServer[] = [];
const warnings: Error[] = [];
const onWarning = (w: Error) => warnings.push(w);
const io: CliIo = { stdout: () => undefined, stderr: () => undefined, readInput: async () => '' };
const pki = (args: string) => runPkiCommand(parsePkiArgs([...args.split(' '), '--dir', pkiDir]), io);

async function serve(base: string): Promise<number> {
  const made = h.makeAgent({ kubelet: kubeletBinaryPort(execaExec) });
  await made.agent.start();
  const tls = await AgentTls.load({ ca: path.join(pkiDir, 'ca.crt'), cert: path.join(pkiDir, `${base}.crt`), key: path.join(pkiDir, `${base}.key`) }, silentLogger());
  const s = await startAgentServer({ address: '127.0.0.1:0', tls: tls.serverCredentials(), handlers: withAuthz(withCertExpiry(createAgentHandlers(made.agent, made.stage, silentLogger()), tls), silentLogger()), logger: silentLogger() });
  servers.push(s);
  return s.port;
}

async function client(port: number, serverName?: string): Promise<AgentConnection> {
  const r = (f: string) => readFile(path.join(pkiDir, f));
  return new AgentConnection({ address: `127.0.0.1:${port}`, tls: { ca: await r('ca.crt'), cert: await r('coordinator-lead.crt'), key: await r('coordinator-lead.key') }, maxRetries: 0, ...(serverName ? { serverName } : {}) });
}

beforeAll(async () => {
  process.on('warning', onWarning);
  tmp = await mkdtemp(path.join(tmpdir(), 'kip-tlsname-'));
  pkiDir = path.join(tmp, 'pki');
  await pki('init');
  await pki('issue --agent node-1 --ip 127.0.0.1 --dns node-1.example');
  await pki('issue --agent elsewhere --ip 127.0.0.9 --dns elsewhere.example');
  await pki('issue --coordinator lead');
  h = await makeHarness();
}, 60_000);

afterAll(async () => {
  process.off('warning', onWarning);
  for (const s of servers) await s.shutdown(2_000);
  await h?.cleanup();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('the coordinator TLS client and server names', () => {
  it('dials an agent by IP without an IP ServerName (no DEP0123 warning) and verifies the IP SAN', async () => {
    const c = await client(await serve('agent-node-1'));
    try {
      expect((await c.getNode()).nodeName).not.toBe('');
    } finally {
      c.close();
    }
    // Warnings are emitted on the next tick; give the process one turn to deliver any.
    await new Promise((r) => setImmediate(r));
    expect(warnings.map((w) => `${w.name} ${(w as NodeJS.ErrnoException).code ?? ''} ${w.message}`).filter((w) => /DEP0123|ServerName/.test(w))).toEqual([]);
  });

  it('still refuses an agent whose certificate does not carry the IP dialled', async () => {
    const c = await client(await serve('agent-elsewhere'));
    try {
      await expect(c.getNode()).rejects.toThrow(/127\.0\.0\.1|IP: 127\.0\.0\.9|altnames|certificate/i);
    } finally {
      c.close();
    }
  });

  it('uses a given server name for both SNI and verification', async () => {
    expect(tlsTarget('127.0.0.1:7443', 'node-1.example')).toEqual({ nameOverride: 'node-1.example' });
    expect(tlsTarget('node-1.example:7443')).toEqual({});
    expect(tlsTarget('[::1]:7443').nameOverride).toBe('kip-agent.invalid');
    const c = await client(await serve('agent-elsewhere'), 'elsewhere.example');
    try {
      expect((await c.getNode()).nodeName).not.toBe('');
    } finally {
      c.close();
    }
  });
});
