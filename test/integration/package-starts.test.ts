/**
 * The packaged executables (scripts/package: SEA launcher, chunks and code caches as assets) start
 * without a word from Node on stderr: no "Code cache data rejected." (the agent with and without
 * its unit's NODE_OPTIONS), no "the require() provided to the main script ... only supports
 * loading built-in modules" (kip opening its SQLite store through the addon asset, kip's real
 * ports loading client-node and ws). Before these, 6aa5135's artifacts printed both, and its
 * packaged kip could not open a run store at all ("No such built-in module: .../better_sqlite3.node").
 */
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentUnitNodeOptions } from '../../scripts/package/build.ts';
import { cachedAgentArtifact, cachedKipArtifact } from '../../scripts/package/cached.ts';
import { makeTestPki, type TestPki } from '../../scripts/nspawn/test-pki.ts';
import { freePort } from '../../scripts/nspawn/agent-node.ts';

/** Anything Node itself writes to stderr: `(node:PID) Warning: ...` and its trace hint. */
const NODE_NOISE = /\(node:\d+\)|Warning:|--trace-warnings/;

let kip = '';
let agent = '';
let dir = '';
let pki: TestPki | undefined;

beforeAll(async () => {
  // KIP_TEST_KIP_EXE / KIP_TEST_AGENT_EXE: check other executables instead (an older build).
  kip = process.env.KIP_TEST_KIP_EXE ?? (await cachedKipArtifact());
  agent = process.env.KIP_TEST_AGENT_EXE ?? (await cachedAgentArtifact());
  dir = await mkdtemp(path.join(tmpdir(), 'kip-package-starts-'));
  pki = await makeTestPki(path.join(dir, 'pki'));
}, 900_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const run = (exe: string, args: readonly string[], env: Record<string, string> = {}) =>
  execa(exe, [...args], { reject: false, timeout: 120_000, env: { ...env, NODE_OPTIONS: env.NODE_OPTIONS ?? '' }, stdin: 'ignore' });

describe('packaged kip', () => {
  it('kip --help prints the help and nothing on stderr', async () => {
    const r = await run(kip, ['--help']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^Usage: kip \[options\] \[command\]/);
    expect(r.stdout).toContain('upgrade [options]');
    expect(r.stderr).toBe('');
  }, 120_000);

  it('a command with its own help runs from the full chunk, quietly', async () => {
    const r = await run(kip, ['status', '--help']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^Usage: kip status \[options\]/);
    expect(r.stderr).toBe('');
  }, 120_000);

  it('opens its SQLite run store through the addon in the executable, without Node\'s require() warning', async () => {
    const state = path.join(dir, 'state');
    const r = await run(kip, ['status', '--state-dir', state]);
    expect(r.stderr).not.toMatch(NODE_NOISE);
    expect(r.stderr).not.toMatch(/STORE_OPEN_FAILED|built-in module/);
    expect(r.stderr).toContain(`no run in ${state}`);
    expect((await stat(path.join(state, 'runs.db'))).isFile()).toBe(true);
  }, 120_000);

  it('loads its real ports (client-node, ws) without Node\'s require() warning', async () => {
    const inv = path.join(dir, 'hosts.ini');
    await writeFile(inv, '[kip_agents]\nnode-a ansible_host=127.0.0.7\n');
    const r = await run(kip, ['inventory', '--from-ansible', inv]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('127.0.0.7');
    expect(r.stderr).toBe('');
  }, 120_000);
});

describe('packaged kip-agent', () => {
  it('--version is quiet with and without the unit\'s NODE_OPTIONS (a code cache for each)', async () => {
    for (const opts of ['', (await agentUnitNodeOptions()).join(' ')]) {
      const r = await run(agent, ['--version'], { NODE_OPTIONS: opts });
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toMatch(/^kip-agent \S+ \(node v20\./);
      expect(r.stderr, `NODE_OPTIONS=${opts}`).toBe('');
    }
  }, 120_000);

  it('starts and listens under the unit\'s NODE_OPTIONS with nothing from Node on stderr', async () => {
    if (!pki) throw new Error('no pki');
    const port = await freePort();
    const a = execa(agent, ['--listen', `127.0.0.1:${port}`, '--tls-ca', pki.serverFiles.ca, '--tls-cert', pki.serverFiles.cert, '--tls-key', pki.serverFiles.key,
      '--state-dir', path.join(dir, 'agent-state'), '--root-prefix', path.join(dir, 'agent-root'), '--kubelet-unit', 'kip-none.service',
      '--cri-endpoint', `unix://${path.join(dir, 'no-cri.sock')}`, '--node-name', 'quiet', '--log-level', 'info'],
    { reject: false, env: { NODE_OPTIONS: (await agentUnitNodeOptions()).join(' ') }, stdin: 'ignore' });
    let stderr = '';
    a.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
    try {
      // pino writes JSON lines to stdout; the listening line comes once the gRPC server is bound.
      await new Promise<void>((resolve, reject) => {
        let out = '';
        a.stdout?.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('"msg":"kip-agent listening (mutual TLS)"')) resolve();
        });
        a.once('exit', (code) => reject(new Error(`agent exited ${code} before listening: ${stderr}${out.slice(-2000)}`)));
      });
    } finally {
      a.kill('SIGTERM');
      await a;
    }
    expect(stderr).not.toMatch(NODE_NOISE);
  }, 120_000);
});
