/**
 * EtcdSnapshots against the real Debian etcd 3.4 over mutual TLS: a snapshot of an etcd with data
 * in it is verified, listed, restored with `etcdctl snapshot restore` into a fresh data dir, and a
 * second etcd started on that dir serves the key back. Wrong client certs, an etcd that is down
 * and a full state dir each fail with their own code and leave nothing behind.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../lib/clock.ts';
import { execaExec } from '../../lib/exec.ts';
import { waitFor } from '../../lib/poll.ts';
import { EtcdSnapshots, type EtcdTarget } from '../../agent/components/index.ts';
import { nodeFileSystem } from '../../agent/upgrade/fs.ts';
import { freePort } from '../../scripts/nspawn/agent-node.ts';
import { makeTestPki, type TestPki } from '../../scripts/nspawn/test-pki.ts';
import { silentLogger } from '../../lib/logger.ts';
import { HoldStore } from '../../agent/components/index.ts';
import { createAgentHandlers, startAgentServer } from '../../agent/server.ts';
import { ComponentService } from '../../agent/server-components.ts';
import type { Systemd } from '../../agent/systemd/index.ts';
import { AgentConnection } from '../../coordinator/fleet/client.ts';
import { AgentCallError } from '../../coordinator/fleet/errors.ts';
import { makeHarness } from '../unit/upgrade-fakes.ts';

let tmp: string;
let pki: TestPki;
const daemons: ResultPromise[] = [];

async function etcdctl(args: string[], tls?: { cacert: string; cert: string; key: string }) {
  const t = tls ? [`--cacert=${tls.cacert}`, `--cert=${tls.cert}`, `--key=${tls.key}`] : [];
  return execaExec('etcdctl', [...t, ...args], { timeoutMs: 30_000, env: { ETCDCTL_API: '3', PATH: process.env.PATH ?? '/usr/bin:/bin' } });
}

/** Starts etcd (TLS when given) on free loopback ports and waits until it answers. */
async function startEtcd(name: string, dataDir: string, tls?: { cert: string; key: string; ca: string }, peerPort?: number): Promise<string> {
  const clientPort = await freePort();
  const peer = `http://127.0.0.1:${peerPort ?? (await freePort())}`;
  const scheme = tls ? 'https' : 'http';
  const client = `${scheme}://127.0.0.1:${clientPort}`;
  const args = ['--name', name, '--data-dir', dataDir, '--listen-client-urls', client, '--advertise-client-urls', client, '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `${name}=${peer}`, '--log-level', 'warn', '--logger', 'zap'];
  if (tls) args.push('--cert-file', tls.cert, '--key-file', tls.key, '--trusted-ca-file', tls.ca, '--client-cert-auth');
  const p = execa('etcd', args, { reject: false, stdio: ['ignore', 'ignore', 'pipe'] });
  daemons.push(p);
  const clientTls = tls ? { cacert: tls.ca, cert: path.join(pki.dir, 'client.crt'), key: path.join(pki.dir, 'client.key') } : undefined;
  await waitFor(`etcd ${name} to answer`, async () => ((await etcdctl([`--endpoints=${client}`, 'endpoint', 'health'], clientTls)).exitCode === 0 ? true : undefined), { timeoutMs: 30_000, intervalMs: 100 });
  return client;
}

let endpoint: string;
let good: EtcdTarget;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'kip-etcd-snap-'));
  pki = await makeTestPki(path.join(tmp, 'pki'));
  endpoint = await startEtcd('kip-snap', path.join(tmp, 'data'), { cert: path.join(pki.dir, 'agent.crt'), key: path.join(pki.dir, 'agent.key'), ca: path.join(pki.dir, 'ca.crt') });
  good = { endpoints: [endpoint], cacert: path.join(pki.dir, 'ca.crt'), cert: path.join(pki.dir, 'client.crt'), key: path.join(pki.dir, 'client.key') };
  const tls = { cacert: good.cacert as string, cert: good.cert as string, key: good.key as string };
  for (let i = 0; i < 50; i++) {
    const r = await etcdctl([`--endpoints=${endpoint}`, 'put', `/registry/kip/key-${i}`, `value-${i}-${'x'.repeat(4000)}`], tls);
    expect(r.exitCode, r.stderr).toBe(0);
  }
  expect((await etcdctl([`--endpoints=${endpoint}`, 'put', '/registry/kip/marker', 'snapshot-me'], tls)).exitCode).toBe(0);
}, 120_000);

afterAll(async () => {
  for (const d of daemons) {
    d.kill('SIGTERM');
    await d;
  }
  await rm(tmp, { recursive: true, force: true });
});

const snapshots = (stateDir: string) => new EtcdSnapshots({ exec: execaExec, fs: nodeFileSystem, clock: systemClock, stateDir, timeoutMs: 60_000 });

describe('EtcdSnapshots (real etcd 3.4, mutual TLS)', () => {
  it('saves a verified snapshot that restores into a fresh data dir with the data in it', async () => {
    const stateDir = path.join(tmp, 'state-ok');
    const s = snapshots(stateDir);
    const info = await s.save(good);
    expect(info.totalKeys).toBeGreaterThanOrEqual(51);
    expect(info.revision).toBeGreaterThanOrEqual(52);
    expect(info.sizeBytes).toBeGreaterThan(200_000);
    expect(info.sha256).toBe(createHash('sha256').update(await readFile(info.path)).digest('hex'));
    expect(info.path.startsWith(path.join(stateDir, 'etcd-snapshots'))).toBe(true);
    expect((await s.list()).map((x) => x.id)).toEqual([info.id]);
    expect((await s.get(info.id)).sha256).toBe(info.sha256);
    expect((await readdir(s.dir())).sort()).toEqual([`${info.id}.db`, `${info.id}.json`]);

    const peerPort = await freePort();
    const restored = path.join(tmp, 'restored');
    const r = await etcdctl(['snapshot', 'restore', info.path, '--data-dir', restored, '--name', 'kip-restored', '--initial-cluster', `kip-restored=http://127.0.0.1:${peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`]);
    expect(r.exitCode, r.stderr).toBe(0);
    const second = await startEtcd('kip-restored', restored, undefined, peerPort);
    const got = await etcdctl([`--endpoints=${second}`, 'get', '/registry/kip/marker', '--print-value-only']);
    expect(got.stdout.trim()).toBe('snapshot-me');
    const keys = await etcdctl([`--endpoints=${second}`, 'get', '/registry/kip/', '--prefix', '--keys-only']);
    expect(keys.stdout.split('\n').filter((l) => l.trim() !== '')).toHaveLength(51);
  }, 120_000);

  it('refuses client certs from another CA (ETCD_SNAPSHOT_TLS) and keeps nothing', async () => {
    const stateDir = path.join(tmp, 'state-tls');
    const s = snapshots(stateDir);
    const rogue = { ...good, cert: path.join(pki.dir, 'rogue.crt'), key: path.join(pki.dir, 'rogue.key') };
    await expect(s.save(rogue)).rejects.toMatchObject({ code: 'ETCD_SNAPSHOT_TLS' });
    expect(await s.list()).toEqual([]);
    expect(await readdir(stateDir).catch(() => [])).toEqual([]);
  }, 60_000);

  it('an etcd that is down is ETCD_SNAPSHOT_UNREACHABLE; incomplete certs are refused before anything runs', async () => {
    const stateDir = path.join(tmp, 'state-down');
    const s = snapshots(stateDir);
    const down = `https://127.0.0.1:${await freePort()}`;
    const err = await s.save({ ...good, endpoints: [down] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ETCD_SNAPSHOT_UNREACHABLE' });
    expect(String((err as Error).message)).toContain(down);
    expect(await readdir(stateDir).catch(() => [])).toEqual([]);
    await expect(s.save({ endpoints: [endpoint], cacert: good.cacert })).rejects.toMatchObject({ code: 'ETCD_TARGET_INVALID' });
    await expect(s.save({ endpoints: [] })).rejects.toMatchObject({ code: 'ETCD_TARGET_INVALID' });
    await expect(s.get('etcd-20260101T000000Z-00000000')).rejects.toMatchObject({ code: 'ETCD_SNAPSHOT_NOT_FOUND' });
    await expect(s.get('../../etc/passwd')).rejects.toMatchObject({ code: 'ETCD_SNAPSHOT_NOT_FOUND' });
  }, 60_000);

  it('a full state dir is ETCD_SNAPSHOT_NO_SPACE, with no partial file left', async () => {
    const stateDir = path.join(tmp, 'state-full');
    await mkdir(stateDir, { recursive: true });
    const m = await execaExec('mount', ['-t', 'tmpfs', '-o', 'size=128k', 'tmpfs', stateDir], { timeoutMs: 10_000 });
    expect(m.exitCode, m.stderr).toBe(0);
    try {
      const s = snapshots(stateDir);
      await expect(s.save(good)).rejects.toMatchObject({ code: 'ETCD_SNAPSHOT_NO_SPACE' });
      expect(await readdir(s.dir())).toEqual([]);
      expect(await s.list()).toEqual([]);
    } finally {
      await execaExec('umount', [stateDir], { timeoutMs: 10_000 });
    }
  }, 60_000);
});

/** The discovery part of GetNode is not under test here: a systemd that knows no unit. */
const noUnits: Systemd = {
  show: async () => ({ LoadState: 'not-found' }),
  start: async () => undefined,
  stop: async () => undefined,
  restart: async () => undefined,
  daemonReload: async () => undefined,
  isActive: async () => 'inactive',
};

describe('EtcdSnapshot and FetchSnapshot over the agent gRPC server', () => {
  it('snapshots, lists in GetNode, streams the file back byte for byte; errors carry their status and code', async () => {
    const h = await makeHarness();
    const made = h.makeAgent();
    await made.agent.start();
    const stateDir = path.join(tmp, 'state-grpc');
    const svc = new ComponentService({
      discovery: { fs: nodeFileSystem, systemd: noUnits, exec: execaExec, hostPath: (p) => path.join(h.root, p), manifestsDir: '/etc/kubernetes/manifests', kubeletUnit: 'none.service', kubeletBinary: '/usr/bin/kubelet', kubeletHealthzUrl: '' },
      configs: [],
      holds: new HoldStore({ fs: nodeFileSystem, systemd: noUnits, clock: systemClock, stateDir, hostPath: (p) => path.join(h.root, p) }),
      snapshots: snapshots(stateDir),
      etcd: good,
      logger: silentLogger(),
    });
    const server = await startAgentServer({ address: '127.0.0.1:0', tls: pki.server, handlers: createAgentHandlers(made.agent, made.stage, silentLogger(), { components: svc }), logger: silentLogger() });
    const client = new AgentConnection({ address: `127.0.0.1:${server.port}`, tls: pki.client, maxRetries: 1, backoffMs: 50 });
    try {
      const info = await client.etcdSnapshot();
      expect(Number(info.totalKeys)).toBeGreaterThanOrEqual(51);
      expect((await client.getNode()).etcdSnapshots.map((x) => x.id)).toEqual([info.id]);
      const chunks: Buffer[] = [];
      let meta;
      for await (const c of client.fetchSnapshot(info.id)) {
        if (c.payload === 'info') meta = c.info;
        else if (c.data) chunks.push(c.data);
      }
      expect(meta?.sha256).toBe(info.sha256);
      const all = Buffer.concat(chunks);
      expect(all.length).toBe(Number(info.sizeBytes));
      expect(createHash('sha256').update(all).digest('hex')).toBe(info.sha256);

      const missing = await (async () => {
        for await (const _ of client.fetchSnapshot('etcd-20260101T000000Z-00000000')) void _;
      })().catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(AgentCallError);
      expect(missing).toMatchObject({ code: 'ETCD_SNAPSHOT_NOT_FOUND', kind: 'not_found' });
      const down = await client.etcdSnapshot(`https://127.0.0.1:${await freePort()}`).catch((e: unknown) => e);
      expect(down).toMatchObject({ code: 'ETCD_SNAPSHOT_UNREACHABLE', kind: 'precondition' });
      expect((await client.getNode()).etcdSnapshots).toHaveLength(1);
    } finally {
      client.close();
      await server.shutdown(2_000);
      await h.cleanup();
    }
  }, 120_000);
});
