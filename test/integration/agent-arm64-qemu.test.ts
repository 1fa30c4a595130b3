/**
 * The arm64 kip-agent (npm run package -- --arm64: the same bundle in the official linux-arm64
 * Node of our version, scripts/package/build.ts) actually run, on this x64 machine, under
 * qemu-user (Debian's qemu-user-static, invoked directly: no binfmt registration needed) with the
 * aarch64 glibc and libstdc++ of Debian's cross packages as its root (-L /usr/aarch64-linux-gnu):
 * it is an AArch64 ELF and `--version` says linux-arm64; then, in an nspawn node with a real
 * systemd and no Node.js, run by scripts/systemd/kip-agent.service (ExecStart through the
 * emulator, the emulator and the aarch64 root bound read-only), it reads the stand-in kubelet
 * and serves GetNode over mutual TLS on loopback: `kip ping` answers, a client from another CA is
 * refused, and `systemctl stop` ends it cleanly. (On the bare host GetNode cannot answer: there
 * is no systemd there to read the kubelet unit from.) Needs: qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross
 * libgcc-s1-arm64-cross (scripts/install-deps.sh).
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execaExec } from '../../lib/exec.ts';
import { AgentConnection } from '../../coordinator/fleet/client.ts';
import { cachedArm64AgentArtifact, cachedKipArtifact } from '../../scripts/package/cached.ts';
import { bootAgentNode, type AgentNode } from '../../scripts/nspawn/agent-node.ts';
import pkg from '../../package.json' with { type: 'json' };

const QEMU = '/usr/bin/qemu-aarch64-static';
const SYSROOT = '/usr/aarch64-linux-gnu';
let tmp = '';
let exe = '';
let kip = '';
const OLD = 'v1.10.13';
let an: AgentNode | undefined;
const figures: Record<string, number> = {};

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'kip-arm64-'));
  const t0 = performance.now();
  [exe, kip] = [await cachedArm64AgentArtifact(), await cachedKipArtifact()];
  figures.buildMs = Math.round(performance.now() - t0);
}, 600_000);

afterAll(async () => {
  process.stdout.write(`arm64 under qemu: ${JSON.stringify(figures)}\n`);
  await an?.stop();
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

  it('runs under its systemd unit in a node (real systemd, no Node.js), reads the kubelet and answers kip ping over mutual TLS; another CA is refused; stop is clean', async () => {
    const t0 = performance.now();
    // The hardened unit as shipped, with ExecStart through the emulator (the only change), and
    // start/watchdog limits for an emulated start on a loaded 2-core host.
    an = await bootAgentNode({
      name: 'kip-arm64-qemu',
      kubeletVersion: OLD,
      artifact: exe,
      logLevel: 'info',
      bindRo: [{ host: QEMU }, { host: SYSROOT }],
      agentServiceExtra: ['ExecStart=', `ExecStart=${QEMU} -L ${SYSROOT} /usr/local/bin/kip-agent --config /etc/kip/agent.yaml`, 'TimeoutStartSec=600s', 'WatchdogSec=300s'],
      startTimeoutMs: 600_000,
    });
    figures.bootToGetNodeMs = Math.round(performance.now() - t0);
    const node = an;
    const pid = await node.mainPid('kip-agent.service');
    // The unit's main process is the emulator running the arm64 agent, and the node has no node.
    expect((await node.sh(`readlink /proc/${pid}/exe`)).trim()).toBe(QEMU);
    expect((await node.shMaybe('command -v node nodejs; true')).out.trim()).toBe('');
    expect((await node.sh('systemctl show -p Type --value kip-agent.service')).trim()).toBe('notify');
    const info = await node.client.getNode();
    expect(info).toMatchObject({ nodeName: expect.any(String), agentVersion: pkg.version, kubeletVersion: OLD });
    const p = node.pki.dir;
    const t1 = performance.now();
    const r = await execaExec(kip, ['ping', `127.0.0.1:${node.agentPort}`, '--ca', path.join(p, 'ca.crt'), '--cert', path.join(p, 'client.crt'), '--key', path.join(p, 'client.key'), '--timeout', '120', '-o', 'json'], { timeoutMs: 180_000 });
    figures.pingMs = Math.round(performance.now() - t1);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ nodeName: info.nodeName, agentVersion: pkg.version, kubeletVersion: OLD });

    const rogue = new AgentConnection({ address: `127.0.0.1:${node.agentPort}`, tls: node.pki.rogueClient, maxRetries: 0 });
    try {
      await expect(rogue.getNode()).rejects.toThrow();
    } finally {
      rogue.close();
    }

    await node.sh('systemctl stop kip-agent.service', 120_000);
    expect((await node.sh('systemctl show -p Result,ExecMainStatus --value kip-agent.service')).trim().split('\n')).toEqual(['success', '0']);
    expect(await node.mainPid('kubelet.service')).toBeGreaterThan(0);
  }, 900_000);
});
