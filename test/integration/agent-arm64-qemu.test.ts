/**
 * The arm64 kip-agent (npm run package -- --arm64: the same bundle in the official linux-arm64
 * Node of our version, scripts/package/build.ts) actually run, on this x64 machine, under
 * qemu-user (Debian's qemu-user-static, invoked directly: no binfmt registration needed) with the
 * aarch64 glibc and libstdc++ of Debian's cross packages as its root (-L /usr/aarch64-linux-gnu):
 * it is an AArch64 ELF, `--version` says linux-arm64, and started with a config it serves GetNode
 * over mutual TLS on loopback: `kip ping` answers, a client from another CA is refused, and
 * SIGTERM ends it cleanly. Needs: qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross
 * libgcc-s1-arm64-cross (scripts/install-deps.sh).
 */
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execaExec } from '../../lib/exec.ts';
import { waitFor } from '../../lib/poll.ts';
import { AgentConnection } from '../../coordinator/fleet/client.ts';
import { cachedArm64AgentArtifact, cachedKipArtifact } from '../../scripts/package/cached.ts';
import { makeTestPki, type TestPki } from '../../scripts/nspawn/test-pki.ts';
import { freePort } from '../../scripts/nspawn/agent-node.ts';
import pkg from '../../package.json' with { type: 'json' };

const QEMU = '/usr/bin/qemu-aarch64-static';
const SYSROOT = '/usr/aarch64-linux-gnu';
let tmp = '';
let exe = '';
let kip = '';
let pki: TestPki;
let agent: ResultPromise | undefined;
const figures: Record<string, number> = {};

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'kip-arm64-'));
  const t0 = performance.now();
  [exe, kip] = [await cachedArm64AgentArtifact(), await cachedKipArtifact()];
  figures.buildMs = Math.round(performance.now() - t0);
  pki = await makeTestPki(path.join(tmp, 'pki'));
}, 600_000);

afterAll(async () => {
  process.stdout.write(`arm64 under qemu: ${JSON.stringify(figures)}\n`);
  if (agent && agent.exitCode === null) {
    agent.kill('SIGKILL');
    await agent.catch(() => undefined);
  }
  if (tmp) await rm(tmp, { recursive: true, force: true });
}, 60_000);

describe('the arm64 kip-agent under qemu-aarch64', () => {
  it('is an AArch64 executable and says linux-arm64 on --version', async () => {
    const fh = await open(exe, 'r');
    const head = Buffer.alloc(20);
    try {
      await fh.read(head, 0, 20, 0);
    } finally {
      await fh.close();
    }
    // ELF, 64-bit, little endian, e_machine 183 (EM_AARCH64).
    expect([head.subarray(0, 4).toString('latin1'), head[4], head[5], head.readUInt16LE(18)]).toEqual(['\x7fELF', 2, 1, 183]);
    const t0 = performance.now();
    const r = await execaExec(QEMU, ['-L', SYSROOT, exe, '--version'], { timeoutMs: 300_000 });
    figures.versionMs = Math.round(performance.now() - t0);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`kip-agent ${pkg.version} (node ${process.version}, linux-arm64)`);
  }, 320_000);

  it('starts with a config and answers kip ping (GetNode over mutual TLS) on loopback; another CA is refused; SIGTERM ends it', async () => {
    const port = await freePort();
    const root = path.join(tmp, 'root');
    await mkdir(root, { recursive: true });
    const config = path.join(tmp, 'agent.yaml');
    await writeFile(config, [
      `listen: 127.0.0.1:${port}`,
      'nodeName: arm64-qemu',
      `tlsCa: ${pki.serverFiles.ca}`,
      `tlsCert: ${pki.serverFiles.cert}`,
      `tlsKey: ${pki.serverFiles.key}`,
      `stateDir: ${path.join(tmp, 'state')}`,
      `rootPrefix: ${root}`,
      'kubeletUnit: kip-arm64-none.service',
      'logLevel: info',
      '',
    ].join('\n'));
    const t0 = performance.now();
    agent = execa(QEMU, ['-L', SYSROOT, exe, '--config', config], { reject: false, stdio: ['ignore', 'pipe', 'pipe'], env: { NOTIFY_SOCKET: '' } });
    let log = '';
    agent.stdout?.on('data', (d: Buffer) => (log += d.toString()));
    agent.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    // The process is the emulator running the arm64 agent, not an x64 node.
    expect(readlinkSync(`/proc/${agent.pid}/exe`)).toBe(QEMU);
    const ping = await waitFor('the arm64 agent to answer kip ping', async () => {
      if (agent?.exitCode !== null) throw new Error(`the agent exited (${String(agent?.exitCode)}):\n${log.slice(-3000)}`);
      const r = await execaExec(kip, ['ping', `127.0.0.1:${port}`, '--ca', pki.serverFiles.ca, '--cert', path.join(pki.dir, 'client.crt'), '--key', path.join(pki.dir, 'client.key'), '--timeout', '10', '-o', 'json'], { timeoutMs: 60_000 });
      return r.exitCode === 0 ? (JSON.parse(r.stdout) as { nodeName: string; agentVersion: string }) : undefined;
    }, { timeoutMs: 420_000, intervalMs: 1_000 });
    figures.startToPingMs = Math.round(performance.now() - t0);
    expect(ping).toMatchObject({ nodeName: 'arm64-qemu', agentVersion: pkg.version });
    expect(log).toMatch(/"msg":"ready"/);

    const rogue = new AgentConnection({ address: `127.0.0.1:${port}`, tls: pki.rogueClient, maxRetries: 0 });
    try {
      await expect(rogue.getNode()).rejects.toThrow();
    } finally {
      rogue.close();
    }

    agent.kill('SIGTERM');
    const done = await agent;
    expect({ exitCode: done.exitCode, signal: done.signal }, log.slice(-2000)).toEqual({ exitCode: 0, signal: undefined });
  }, 480_000);
});
