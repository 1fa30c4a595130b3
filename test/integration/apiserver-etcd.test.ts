/**
 * The lab's etcd launcher and JSON-gateway client against a real etcd 3.4, and what the apiserver
 * makes of etcd's compaction (410 Gone on old resourceVersions).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:https';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execaExec } from '../../lib/exec.ts';
import { silentLogger } from '../../lib/logger.ts';
import { EtcdError, startEtcd, type EtcdHandle, type EtcdWatchEvent } from '../../scripts/lab/etcd.ts';
import { startLabControlPlane, type LabControlPlane } from '../../scripts/lab/apiserver/harness.ts';

const dirs: string[] = [];
const stops: Array<() => Promise<void>> = [];

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'kip-etcd-'));
  dirs.push(d);
  return d;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(what: string, ok: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

afterAll(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('lab etcd', () => {
  let etcd: EtcdHandle;

  beforeAll(async () => {
    etcd = await startEtcd({ exec: execaExec, dir: await tempDir() });
    stops.push(() => etcd.stop());
  }, 60_000);

  it('listens on 127.0.0.1 only, on its own ports', () => {
    expect(etcd.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(etcd.endpoint).not.toMatch(/:2379$/);
    expect(alive(etcd.pid)).toBe(true);
  });

  it('creates only absent keys, updates only at the expected revision, lists by prefix', async () => {
    const c = etcd.client;
    const a = await c.create('/t/a', 'one');
    expect(a.ok).toBe(true);
    const again = await c.create('/t/a', 'two');
    expect(again).toMatchObject({ ok: false, current: { value: 'one', modRevision: a.revision } });
    const up = await c.update('/t/a', 'three', a.revision);
    expect(up.ok).toBe(true);
    const stale = await c.update('/t/a', 'four', a.revision);
    expect(stale).toMatchObject({ ok: false, current: { value: 'three', modRevision: up.revision } });
    await c.put('/t/b', 'ü✓');
    await c.put('/tx', 'outside');
    const listed = await c.list('/t/');
    expect(listed.kvs.map((k) => [k.key, k.value])).toEqual([['/t/a', 'three'], ['/t/b', 'ü✓']]);
    const old = await c.list('/t/', a.revision);
    expect(old.kvs.map((k) => k.value)).toEqual(['one']);
    expect((await c.deleteIf('/t/a', a.revision)).ok).toBe(false);
    expect((await c.deleteIf('/t/a', up.revision)).ok).toBe(true);
    expect((await c.get('/t/a')).kv).toBeUndefined();
  });

  it('watches a prefix from a revision, with previous values, and reports compaction', async () => {
    const c = etcd.client;
    const from = await c.put('/w/a', '1');
    await c.put('/w/a', '2');
    const del = await c.deleteIf('/w/a', (await c.get('/w/a')).kv?.modRevision ?? 0);
    expect(del.ok).toBe(true);
    const events: EtcdWatchEvent[] = [];
    const errors: EtcdError[] = [];
    const w = c.watch('/w/', from, (e) => events.push(...e), (e) => errors.push(e));
    try {
      await until('three events', () => events.length >= 3);
      expect(events.map((e) => `${e.type} ${e.kv.key} ${e.kv.value} prev=${e.prevKv?.value ?? '-'}`)).toEqual(['PUT /w/a 1 prev=-', 'PUT /w/a 2 prev=1', 'DELETE /w/a  prev=2']);
      await c.put('/w/b', 'live');
      await until('a live event', () => events.length >= 4);
      expect(events[3]?.kv.key).toBe('/w/b');
    } finally {
      w.cancel();
    }
    await c.compact(del.revision);
    const late: EtcdError[] = [];
    const w2 = c.watch('/w/', from, () => undefined, (e) => late.push(e));
    try {
      await until('compaction error', () => late.length > 0);
      expect(late[0]?.code).toBe('ETCD_COMPACTED');
    } finally {
      w2.cancel();
    }
    expect(errors).toEqual([]);
  });

  it('stop() ends the process, is idempotent, and the data survives a new etcd on the same dir', async () => {
    const dir = await tempDir();
    const first = await startEtcd({ exec: execaExec, dir });
    stops.push(() => first.stop());
    await first.client.put('/keep', 'me');
    await Promise.all([first.stop(), first.stop()]);
    expect(alive(first.pid)).toBe(false);
    const second = await startEtcd({ exec: execaExec, dir });
    stops.push(() => second.stop());
    expect((await second.client.get('/keep')).kv?.value).toBe('me');
    await second.stop();
    expect(alive(second.pid)).toBe(false);
  });
});

describe('lab apiserver over a compacted etcd', () => {
  let plane: LabControlPlane;

  beforeAll(async () => {
    plane = await startLabControlPlane({ exec: execaExec, logger: silentLogger(), dir: await tempDir(), gitVersion: 'v1.17.17' });
    stops.push(() => plane.stop());
  }, 90_000);

  it('answers a watch from a compacted resourceVersion with a 410 Expired ERROR event', async () => {
    const rev = await plane.etcd.client.put('/unrelated', 'x');
    await plane.etcd.client.put('/unrelated', 'y');
    await plane.etcd.client.compact(rev + 1);
    const ca = await readFile(plane.pki.ca.cert, 'utf8');
    const admin = plane.pki.clients.admin;
    if (!admin) throw new Error('no admin certificate');
    const [cert, key] = await Promise.all([readFile(admin.cert, 'utf8'), readFile(admin.key, 'utf8')]);
    const text = await new Promise<string>((resolve, reject) => {
      const req = request(new URL(`/api/v1/pods?watch=true&resourceVersion=${rev - 1}`, plane.api.url), { ca, cert, key }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.end();
    });
    const event = JSON.parse(text.trim().split('\n')[0] ?? '{}') as { type: string; object: { code: number; reason: string } };
    expect(event.type).toBe('ERROR');
    expect(event.object).toMatchObject({ code: 410, reason: 'Expired' });
  });
});
