/**
 * Staging (issue 10, "Numbers"): `kip stage` (the CLI's command through coordinator/stage) to 10
 * real kip-agent gRPC servers on 127.0.0.1 with mutual TLS, each with its own on-disk StageStore
 * (sha256 checked, fsync, `--version` run, patch markers read), all in this process as in
 * test/integration/coordinator-agent.test.ts. Aggregate throughput (10 x file size / wall) against
 * `sha256sum` of the same file in the same run, interleaved round by round. Goal: at least 0.5x.
 *
 * The agents' GetNode answers from their StageStore (the staged list is what `kip stage` reads);
 * the rest of the upgrade agent (systemd, kubelet unit) plays no part in staging and is not built.
 * Environment: KIP_BENCH_STAGE_MB (file size, default 100), KIP_BENCH_STAGE_ROUNDS (default 2).
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { V1Node } from '@kubernetes/client-node';
import { execaExec } from '../lib/exec.ts';
import { silentLogger } from '../lib/logger.ts';
import { parseJson } from '../lib/knowledge/hash/index.ts';
import { createAgentHandlers, startAgentServer, type RunningServer } from '../agent/server.ts';
import { nodeFileSystem } from '../agent/upgrade/fs.ts';
import { StageStore } from '../agent/upgrade/stage.ts';
import { kubeletBinaryPort } from '../agent/upgrade/wiring.ts';
import { main } from '../coordinator/cli.ts';
import { productionPorts } from '../coordinator/production-ports.ts';
import type { CliIo } from '../coordinator/io.ts';
import type { ClusterApi, CliPorts } from '../coordinator/ports.ts';
import type { ClusterLock } from '../coordinator/lock/lock.ts';
import { makeTestPki } from '../scripts/nspawn/test-pki.ts';
import { median } from './agent-stats.ts';
import { handlersOnlyAgent } from './handlers-agent.ts';

const AGENTS = 10;
const MB = Number(process.env.KIP_BENCH_STAGE_MB ?? 100);
const ROUNDS = Number(process.env.KIP_BENCH_STAGE_ROUNDS ?? 2);
const FROM = 'v1.10.13';
const TO = 'v1.11.10';

/** A stand-in kubelet of MB MiB: a script that prints its version, then random bytes it never reaches. */
async function writeBinary(file: string): Promise<number> {
  const fh = await open(file, 'w', 0o755);
  const head = Buffer.from(`#!/bin/sh\necho Kubernetes ${TO}\nexit 0\n`);
  try {
    await fh.write(head);
    for (let i = 0; i < MB; i++) await fh.write(randomBytes(1 << 20));
  } finally {
    await fh.close();
  }
  return head.length + (MB << 20);
}

export async function runStageBench(): Promise<void> {
  const tmp = await mkdtemp(path.join(tmpdir(), 'kip-bench-stage-'));
  const servers: RunningServer[] = [];
  try {
    const pki = await makeTestPki(path.join(tmp, 'pki-src'));
    const pkiDir = path.join(tmp, 'pki');
    await mkdir(pkiDir);
    await copyFile(path.join(pki.dir, 'ca.crt'), path.join(pkiDir, 'ca.crt'));
    await copyFile(path.join(pki.dir, 'client.crt'), path.join(pkiDir, 'coordinator.crt'));
    await copyFile(path.join(pki.dir, 'client.key'), path.join(pkiDir, 'coordinator.key'));
    const bin = path.join(tmp, 'releases', TO, 'kubelet');
    await mkdir(path.dirname(bin), { recursive: true });
    const size = await writeBinary(bin);

    const names = Array.from({ length: AGENTS }, (_, i) => `node-${i + 1}`);
    const stateDirs: string[] = [];
    const inventory: string[] = ['agents:'];
    for (const name of names) {
      const stateDir = path.join(tmp, name);
      stateDirs.push(stateDir);
      const logger = silentLogger();
      const stage = new StageStore({ fs: nodeFileSystem, kubelet: kubeletBinaryPort(execaExec), stateDir, skipFilePath: '/var/lib/kubelet/kip-skip', logger });
      const server = await startAgentServer({ address: '127.0.0.1:0', tls: pki.server, handlers: createAgentHandlers(handlersOnlyAgent(name, FROM, stage), stage, logger, { nodeInfoCacheMs: 0 }), logger });
      servers.push(server);
      inventory.push(`  - name: ${name}\n    address: 127.0.0.1:${server.port}`);
    }
    await writeFile(path.join(tmp, 'inventory.yaml'), `${inventory.join('\n')}\n`);
    const lock: ClusterLock = { where: async () => 'bench', read: async () => undefined, acquire: async () => { throw new Error('unused'); }, renew: async () => { throw new Error('unused'); }, release: async () => undefined, forceRelease: async () => undefined };
    const cluster: ClusterApi = {
      server: 'https://bench', version: async () => TO,
      nodes: async () => names.map((n): V1Node => ({ metadata: { name: n, labels: {} }, status: { nodeInfo: { kubeletVersion: FROM } as NonNullable<V1Node['status']>['nodeInfo'], conditions: [{ type: 'Ready', status: 'True' }] } })),
      pods: async () => [], podTree: async () => parseJson('{"items":[]}', 'pods'), annotateNode: async () => undefined, labelNode: async () => undefined, nodeEvent: async () => undefined, lock,
      annotatePod: async () => undefined, apiserverStatus: async () => ({ ready: true, version: 'v1.17.17' }),
    };
    let err = '';
    const io: CliIo = { stdout: () => undefined, stderr: (s) => { err += s; }, readInput: (p) => readFile(p, 'utf8'), env: {}, stdoutIsTTY: false };
    const ports: CliPorts = { ...productionPorts(io), cluster: async () => cluster, logger: silentLogger() };
    const args = ['stage', '--to', TO, '--releases', path.join(tmp, 'releases'), '--parallel', String(AGENTS), '--pki-dir', pkiDir, '--inventory', path.join(tmp, 'inventory.yaml'), '--kubeconfig', '/dev/null', '--state-dir', path.join(tmp, 'state')];

    const stageMs: number[] = [];
    const stageCpuMs: number[] = [];
    const sumMs: number[] = [];
    for (let r = 0; r < ROUNDS + 1; r++) {
      for (const d of stateDirs) await rm(path.join(d, 'binaries'), { recursive: true, force: true });
      const s0 = performance.now();
      const sum = await execaExec('sha256sum', [bin], { timeoutMs: 300_000 });
      const s = performance.now() - s0;
      if (sum.exitCode !== 0) throw new Error(`sha256sum failed: ${sum.stderr}`);
      err = '';
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      const code = await main(args, io, ports);
      const t = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      if (code !== 0) throw new Error(`kip stage exited ${code}: ${err}`);
      const staged = await Promise.all(stateDirs.map((d) => readFile(path.join(d, 'binaries', TO, 'kubelet')).then((b) => b.length, () => 0)));
      if (staged.some((n) => n !== size)) throw new Error(`kip stage left ${staged.join(', ')} bytes on the agents, expected ${size} each`);
      if (r === 0) continue; // warm-up: page cache, TLS sessions, JIT
      stageMs.push(t);
      stageCpuMs.push((cpu.user + cpu.system) / 1000);
      sumMs.push(s);
    }
    const mbps = (bytes: number, ms: number): number => bytes / 2 ** 20 / (ms / 1000);
    const agg = mbps(size * AGENTS, median(stageMs));
    const base = mbps(size, median(sumMs));
    process.stdout.write(`kip stage ${MB} MiB to ${AGENTS} agents (mTLS, 127.0.0.1, --parallel ${AGENTS}): ${(median(stageMs) / 1000).toFixed(2)} s, aggregate ${agg.toFixed(0)} MiB/s (median of ${ROUNDS}; runs ${stageMs.map((v) => (v / 1000).toFixed(2)).join(', ')} s; CPU of this process, coordinator and agents, ${(median(stageCpuMs) / (MB * AGENTS)).toFixed(1)} ms per MiB received)\n`);
    process.stdout.write(`baseline, same run: sha256sum of the same file ${(median(sumMs) / 1000).toFixed(2)} s, ${base.toFixed(0)} MiB/s | ratio ${(agg / base).toFixed(2)}x (goal at least 0.5x)\n`);
  } finally {
    for (const s of servers) await s.shutdown(1_000).catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
  }
}
