/**
 * etcd snapshot (issue 9, "Numbers"): seconds and MB/s of the agent's EtcdSnapshots.save
 * (agent/components/etcd-snapshot.ts: probe, `etcdctl snapshot save`, `snapshot status`, sha256,
 * rename, metadata, fsync) for a ~100 MB etcd database, against `etcdctl snapshot save` alone in
 * the same run, interleaved. A private Debian etcd 3.4 on free 127.0.0.1 ports with mutual TLS
 * (as test/integration/etcd-snapshot.test.ts), filled through its gRPC gateway (/v3/kv/put).
 * Environment: KIP_BENCH_ETCD_MB (default 100), KIP_BENCH_ETCD_ROUNDS (default 3).
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { systemClock } from '../lib/clock.ts';
import { execaExec } from '../lib/exec.ts';
import { waitFor } from '../lib/poll.ts';
import { EtcdSnapshots } from '../agent/components/index.ts';
import { nodeFileSystem } from '../agent/upgrade/fs.ts';
import { freePort } from '../scripts/nspawn/agent-node.ts';
import { makeTestPki } from '../scripts/nspawn/test-pki.ts';
import { median } from './agent-stats.ts';

const MB = Number(process.env.KIP_BENCH_ETCD_MB ?? 100);
const ROUNDS = Number(process.env.KIP_BENCH_ETCD_ROUNDS ?? 3);
const VALUE_BYTES = 100 * 1024;

export async function runEtcdBench(): Promise<void> {
  const tmp = await mkdtemp(path.join(tmpdir(), 'kip-bench-etcd-'));
  const pki = await makeTestPki(path.join(tmp, 'pki'));
  const tls = { cacert: path.join(pki.dir, 'ca.crt'), cert: path.join(pki.dir, 'client.crt'), key: path.join(pki.dir, 'client.key') };
  const clientPort = await freePort();
  const peer = `http://127.0.0.1:${await freePort()}`;
  const client = `https://127.0.0.1:${clientPort}`;
  // A second, plain listener only to fill the database through the gateway (the 3.4 gateway
  // dials etcd with the server certificate, which is no client certificate).
  const fillPort = await freePort();
  const etcd = execa('etcd', ['--name', 'kip-bench', '--data-dir', path.join(tmp, 'data'), '--listen-client-urls', `${client},http://127.0.0.1:${fillPort}`, '--advertise-client-urls', client, '--listen-peer-urls', peer,
    '--initial-advertise-peer-urls', peer, '--initial-cluster', `kip-bench=${peer}`, '--log-level', 'warn', '--logger', 'zap', '--quota-backend-bytes', String(4 * 2 ** 30),
    '--cert-file', path.join(pki.dir, 'agent.crt'), '--key-file', path.join(pki.dir, 'agent.key'), '--trusted-ca-file', tls.cacert, '--client-cert-auth'], { reject: false, stdio: ['ignore', 'ignore', 'pipe'] });
  const etcdctl = (args: string[]) => execaExec('etcdctl', [`--cacert=${tls.cacert}`, `--cert=${tls.cert}`, `--key=${tls.key}`, ...args], { timeoutMs: 300_000, env: { ETCDCTL_API: '3', PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  try {
    await waitFor('etcd to answer', async () => ((await etcdctl([`--endpoints=${client}`, 'endpoint', 'health'])).exitCode === 0 ? true : undefined), { timeoutMs: 30_000, intervalMs: 100 });
    const put = (key: string, value: Buffer): Promise<void> => new Promise((resolve, reject) => {
      const body = JSON.stringify({ key: Buffer.from(key).toString('base64'), value: value.toString('base64') });
      const req = httpRequest({ host: '127.0.0.1', port: fillPort, path: '/v3/kv/put', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`etcd put ${key}: HTTP ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(body);
    });
    const keys = Math.ceil((MB << 20) / VALUE_BYTES);
    const value = Buffer.alloc(VALUE_BYTES, 'k');
    let next = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < keys) {
        const i = next++;
        await put(`/registry/kip-bench/key-${String(i).padStart(6, '0')}`, value);
      }
    }));
    const dbBytes = (await stat(path.join(tmp, 'data', 'member', 'snap', 'db'))).size;

    const snapshots = new EtcdSnapshots({ exec: execaExec, fs: nodeFileSystem, clock: systemClock, stateDir: path.join(tmp, 'agent'), timeoutMs: 300_000 });
    const target = { endpoints: [client], ...tls };
    const kipMs: number[] = [];
    const aloneMs: number[] = [];
    const statusMs: number[] = [];
    const shaMs: number[] = [];
    let size = 0;
    for (let r = 0; r < ROUNDS + 1; r++) {
      const alone = path.join(tmp, `alone-${r}.db`);
      const a0 = performance.now();
      const res = await etcdctl([`--endpoints=${client}`, 'snapshot', 'save', alone]);
      const a = performance.now() - a0;
      if (res.exitCode !== 0) throw new Error(`etcdctl snapshot save failed: ${res.stderr}`);
      // The parts the agent adds, each alone on the same file: verification and the sha256.
      const s0 = performance.now();
      await etcdctl(['snapshot', 'status', alone, '--write-out=json']);
      const s1 = performance.now();
      await execaExec('sha256sum', [alone], { timeoutMs: 300_000 });
      const s2 = performance.now();
      await rm(alone, { force: true });
      const k0 = performance.now();
      const info = await snapshots.save(target);
      const k = performance.now() - k0;
      size = info.sizeBytes;
      await rm(info.path, { force: true });
      if (r === 0) continue; // warm-up
      kipMs.push(k);
      aloneMs.push(a);
      statusMs.push(s1 - s0);
      shaMs.push(s2 - s1);
    }
    const mbs = (ms: number): string => `${(size / 2 ** 20 / (ms / 1000)).toFixed(0)} MiB/s`;
    const k = median(kipMs);
    const a = median(aloneMs);
    process.stdout.write(`etcd db ${(dbBytes / 2 ** 20).toFixed(0)} MiB (${keys} keys of ${VALUE_BYTES / 1024} KiB), snapshot ${(size / 2 ** 20).toFixed(0)} MiB\n`);
    process.stdout.write(`agent EtcdSnapshots.save: ${(k / 1000).toFixed(2)} s, ${mbs(k)} (median of ${ROUNDS}; ${kipMs.map((v) => (v / 1000).toFixed(2)).join(', ')} s)\n`);
    process.stdout.write(`baseline, same run: etcdctl snapshot save alone ${(a / 1000).toFixed(2)} s, ${mbs(a)} | ratio kip/etcdctl ${(k / a).toFixed(2)}x in time\n`);
    process.stdout.write(`what the agent adds, each alone on the same file: etcdctl snapshot status ${(median(statusMs) / 1000).toFixed(2)} s, sha256sum ${(median(shaMs) / 1000).toFixed(2)} s (save + these ${((a + median(statusMs) + median(shaMs)) / 1000).toFixed(2)} s against the agent's ${(k / 1000).toFixed(2)} s)\n`);
  } finally {
    etcd.kill('SIGTERM');
    await etcd;
    await rm(tmp, { recursive: true, force: true });
  }
}
