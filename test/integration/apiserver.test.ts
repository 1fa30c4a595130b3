/**
 * The lab apiserver at the HTTP level (real etcd, real TLS on 127.0.0.1) and through kubectl:
 * authentication, per-version discovery, Status objects, patch types, raw watch streams, binding,
 * events, and shared storage across API groups.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:https';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execaExec } from '../../lib/exec.ts';
import { silentLogger } from '../../lib/logger.ts';
import { startLabControlPlane, type LabControlPlane } from '../../scripts/lab/apiserver/harness.ts';
import { generateLabPki } from '../../scripts/lab/pki.ts';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: Record<string, unknown>;
}

let dir: string;
let plane: LabControlPlane;
let ca: string;
let cert: string;
let key: string;
const TOKEN = 'lab-token-0123456789';

async function call(method: string, path: string, options: { body?: unknown; contentType?: string; auth?: 'cert' | 'token' | 'none' | { cert: string; key: string }; token?: string } = {}): Promise<Reply> {
  const auth = options.auth ?? 'cert';
  const headers: Record<string, string> = { accept: 'application/json' };
  if (auth === 'token') headers.authorization = `Bearer ${options.token ?? TOKEN}`;
  const body = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  if (body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
  const url = new URL(path, plane.api.url);
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method, headers, ca,
      ...(auth === 'cert' ? { cert, key } : typeof auth === 'object' ? auth : {}),
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        let json: Record<string, unknown> = {};
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          // not JSON (healthz)
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Reads a watch stream until it ends (timeoutSeconds) and returns its events. */
async function watchLines(path: string, during: () => Promise<void>): Promise<Array<{ type: string; object: Record<string, unknown> }>> {
  const url = new URL(path, plane.api.url);
  const events: Array<{ type: string; object: Record<string, unknown> }> = [];
  let opened: () => void = () => undefined;
  const open = new Promise<void>((r) => (opened = r));
  const done = new Promise<void>((resolve, reject) => {
    const req = request(url, { method: 'GET', ca, cert, key }, (res) => {
      expect(res.statusCode).toBe(200);
      expect(String(res.headers['transfer-encoding'])).toBe('chunked');
      opened();
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.trim()) events.push(JSON.parse(line) as { type: string; object: Record<string, unknown> });
        }
      });
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end();
  });
  await open;
  await during();
  await done;
  return events;
}

const names = (list: Reply): string[] =>
  ((list.json.items as Array<{ metadata: { name: string } }> | undefined) ?? []).map((i) => i.metadata.name).sort();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kip-apiserver-'));
  plane = await startLabControlPlane({
    exec: execaExec, logger: silentLogger(), dir, gitVersion: 'v1.10.13', defaultTolerationSeconds: true,
    tokens: { [TOKEN]: { user: 'kip-token-user', groups: ['system:masters'] } },
  });
  ca = await readFile(plane.pki.ca.cert, 'utf8');
  const admin = plane.pki.clients.admin;
  if (!admin) throw new Error('no admin client certificate');
  cert = await readFile(admin.cert, 'utf8');
  key = await readFile(admin.key, 'utf8');
}, 90_000);

afterAll(async () => {
  try {
    await plane?.stop();
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
});

describe('lab apiserver: authentication', () => {
  it('answers 401 Status to requests without credentials, a wrong token, or a certificate from another CA', async () => {
    const none = await call('GET', '/api/v1/pods', { auth: 'none' });
    expect(none.status).toBe(401);
    expect(none.json).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'Unauthorized', code: 401 });
    expect((await call('GET', '/version', { auth: 'token', token: 'wrong' })).status).toBe(401);
    const other = await generateLabPki({ exec: execaExec, dir: join(dir, 'other-pki'), clients: [{ name: 'intruder', commonName: 'kip-admin' }] });
    const intruder = other.clients.intruder;
    if (!intruder) throw new Error('no intruder certificate');
    const foreign = await call('GET', '/api/v1/pods', { auth: { cert: await readFile(intruder.cert, 'utf8'), key: await readFile(intruder.key, 'utf8') } });
    expect(foreign.status).toBe(401);
    const healthz = await call('GET', '/healthz', { auth: 'none' });
    expect(healthz.status).toBe(200);
    expect(healthz.text).toBe('ok');
  });

  it('accepts a bearer token and a client certificate', async () => {
    const v = await call('GET', '/version', { auth: 'token' });
    expect(v.status).toBe(200);
    expect(v.json).toMatchObject({ major: '1', minor: '10', gitVersion: 'v1.10.13' });
    expect((await call('GET', '/api/v1/namespaces')).status).toBe(200);
  });
});

describe('lab apiserver: objects, Status, patches', () => {
  it('returns NotFound and AlreadyExists as Status objects', async () => {
    const missing = await call('GET', '/api/v1/namespaces/default/pods/nope');
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ kind: 'Status', reason: 'NotFound', code: 404, message: 'pods "nope" not found', details: { name: 'nope', kind: 'pods' } });
    const body = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p1', labels: { app: 'a' } }, spec: { containers: [{ name: 'c', image: 'img:1' }] } };
    expect((await call('POST', '/api/v1/namespaces/default/pods', { body })).status).toBe(201);
    const again = await call('POST', '/api/v1/namespaces/default/pods', { body });
    expect(again.status).toBe(409);
    expect(again.json).toMatchObject({ kind: 'Status', reason: 'AlreadyExists', code: 409, message: 'pods "p1" already exists' });
    const wrongNs = await call('POST', '/api/v1/namespaces/default/pods', { body: { ...body, metadata: { name: 'p2', namespace: 'other' } } });
    expect(wrongNs.status).toBe(400);
  });

  it('applies JSON patch and merge patch, rejects unknown patch types and failed tests', async () => {
    const j = await call('PATCH', '/api/v1/namespaces/default/pods/p1', {
      contentType: 'application/json-patch+json',
      body: [{ op: 'add', path: '/metadata/annotations', value: { 'a/b': '1' } }, { op: 'replace', path: '/metadata/labels/app', value: 'b' }, { op: 'test', path: '/metadata/labels/app', value: 'b' }],
    });
    expect(j.status).toBe(200);
    expect(j.json.metadata).toMatchObject({ labels: { app: 'b' }, annotations: { 'a/b': '1' } });
    const failed = await call('PATCH', '/api/v1/namespaces/default/pods/p1', { contentType: 'application/json-patch+json', body: [{ op: 'test', path: '/metadata/labels/app', value: 'zzz' }] });
    expect(failed.status).toBe(422);
    const m = await call('PATCH', '/api/v1/namespaces/default/pods/p1', { contentType: 'application/merge-patch+json', body: { metadata: { annotations: { 'a/b': null, c: '2' } } } });
    expect((m.json.metadata as Record<string, unknown>).annotations).toEqual({ c: '2' });
    const bad = await call('PATCH', '/api/v1/namespaces/default/pods/p1', { contentType: 'application/apply-patch+yaml', body: 'x: 1' });
    expect(bad.status).toBe(415);
    expect((await call('PATCH', '/api/v1/namespaces/default/pods/none', { contentType: 'application/merge-patch+json', body: {} })).status).toBe(404);
  });

  it('binds a pending pod once (PodScheduled condition), then answers 409', async () => {
    await call('POST', '/api/v1/namespaces/default/pods', { body: { metadata: { name: 'pending' }, spec: { containers: [{ name: 'c', image: 'i:1' }] } } });
    const unscheduled = await call('GET', '/api/v1/namespaces/default/pods?fieldSelector=spec.nodeName%3D');
    expect(names(unscheduled)).toEqual(['p1', 'pending']);
    const bind = await call('POST', '/api/v1/namespaces/default/pods/pending/binding', { body: { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'pending' }, target: { kind: 'Node', name: 'node-1' } } });
    expect(bind.status).toBe(201);
    const pod = await call('GET', '/api/v1/namespaces/default/pods/pending');
    expect((pod.json.spec as Record<string, unknown>).nodeName).toBe('node-1');
    expect((pod.json.status as { conditions: unknown[] }).conditions).toEqual([expect.objectContaining({ type: 'PodScheduled', status: 'True' })]);
    const twice = await call('POST', '/api/v1/namespaces/default/bindings', { body: { metadata: { name: 'pending' }, target: { name: 'node-2' } } });
    expect(twice.status).toBe(409);
  });

  it('selects events by involvedObject fields', async () => {
    for (const [name, obj] of [['e1', 'p1'], ['e2', 'pending']] as const) {
      // kubectl describe selects a pod's events by involvedObject name, namespace, kind AND uid
      const uid = ((await call('GET', `/api/v1/namespaces/default/pods/${obj}`)).json.metadata as { uid: string }).uid;
      const r = await call('POST', '/api/v1/namespaces/default/events', {
        body: { metadata: { name }, involvedObject: { kind: 'Pod', namespace: 'default', name: obj, uid }, reason: 'Scheduled', type: 'Normal', message: `m ${obj}`, source: { component: 'default-scheduler' } },
      });
      expect(r.status).toBe(201);
    }
    const sel = encodeURIComponent('involvedObject.name=pending,involvedObject.kind=Pod,source=default-scheduler');
    expect(names(await call('GET', `/api/v1/namespaces/default/events?fieldSelector=${sel}`))).toEqual(['e2']);
  });

  it('streams a watch from a resourceVersion as chunked JSON lines and ends it at timeoutSeconds', async () => {
    const list = await call('GET', '/api/v1/namespaces/default/pods');
    const rv = (list.json.metadata as { resourceVersion: string }).resourceVersion;
    const events = await watchLines(`/api/v1/namespaces/default/pods?watch=1&resourceVersion=${rv}&timeoutSeconds=2&labelSelector=w`, async () => {
      await call('POST', '/api/v1/namespaces/default/pods', { body: { metadata: { name: 'w1', labels: { w: '1' } }, spec: { containers: [{ name: 'c', image: 'i:1' }] } } });
      await call('PUT', '/api/v1/namespaces/default/pods/w1/status', { body: { metadata: { name: 'w1' }, status: { phase: 'Running' } } });
      await call('POST', '/api/v1/namespaces/default/pods', { body: { metadata: { name: 'not-watched' }, spec: { containers: [{ name: 'c', image: 'i:1' }] } } });
      await call('POST', '/api/v1/namespaces/default/pods/w1/eviction', { body: { apiVersion: 'policy/v1beta1', kind: 'Eviction', metadata: { name: 'w1' } } });
    });
    expect(events.map((e) => `${e.type} ${(e.object.metadata as { name: string }).name}`)).toEqual(['ADDED w1', 'MODIFIED w1', 'DELETED w1']);
    expect((events[1]?.object.status as { phase: string }).phase).toBe('Running');
    expect((await call('GET', '/api/v1/namespaces/default/pods/w1')).status).toBe(404);
  });
});

describe('lab apiserver: API groups per version', () => {
  const groupVersions = async (): Promise<string[]> =>
    ((await call('GET', '/apis')).json.groups as Array<{ versions: Array<{ groupVersion: string }> }>).flatMap((g) => g.versions.map((v) => v.groupVersion)).sort();

  it('v1.10 serves apps/v1 and extensions/v1beta1 but no coordination.k8s.io; deployments share storage', async () => {
    expect(await groupVersions()).toEqual(['apps/v1', 'extensions/v1beta1']);
    const ext = await call('GET', '/apis/extensions/v1beta1');
    expect((ext.json.resources as Array<{ name: string }>).map((r) => r.name).sort()).toEqual(['daemonsets', 'daemonsets/status', 'deployments', 'deployments/status']);
    const core = await call('GET', '/api/v1');
    expect((core.json.resources as Array<{ name: string }>).map((r) => r.name)).toEqual(expect.arrayContaining(['pods', 'pods/status', 'pods/binding', 'nodes', 'nodes/status', 'namespaces', 'events']));
    expect((await call('GET', '/apis/coordination.k8s.io/v1beta1/namespaces/default/leases')).status).toBe(404);
    const created = await call('POST', '/apis/extensions/v1beta1/namespaces/default/deployments', {
      body: { apiVersion: 'extensions/v1beta1', kind: 'Deployment', metadata: { name: 'old-style' }, spec: { replicas: 1, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i:1' }] } } } },
    });
    expect(created.status).toBe(201);
    expect(created.json.metadata).toMatchObject({ generation: 1 });
    const viaApps = await call('GET', '/apis/apps/v1/namespaces/default/deployments/old-style');
    expect(viaApps.json).toMatchObject({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'old-style' } });
  });

  it('v1.12 adds coordination.k8s.io/v1beta1; v1.14 serves v1 (preferred) too', async () => {
    await plane.restart({ gitVersion: 'v1.12.10' });
    expect(await groupVersions()).toEqual(['apps/v1', 'coordination.k8s.io/v1beta1', 'extensions/v1beta1']);
    await plane.restart({ gitVersion: 'v1.14.10' });
    expect(await groupVersions()).toEqual(['apps/v1', 'coordination.k8s.io/v1', 'coordination.k8s.io/v1beta1', 'extensions/v1beta1']);
    const group = await call('GET', '/apis/coordination.k8s.io');
    expect(group.json.preferredVersion).toEqual({ groupVersion: 'coordination.k8s.io/v1', version: 'v1' });
    const lease = await call('POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', { body: { metadata: { name: 'node-1' }, spec: { holderIdentity: 'node-1', leaseDurationSeconds: 40 } } });
    expect(lease.status).toBe(404); // its namespace does not exist yet
    expect((await call('POST', '/api/v1/namespaces', { body: { metadata: { name: 'kube-node-lease' } } })).status).toBe(201);
    expect((await call('POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', { body: { metadata: { name: 'node-1' }, spec: { holderIdentity: 'node-1' } } })).status).toBe(201);
    const renewed = await call('PATCH', '/apis/coordination.k8s.io/v1beta1/namespaces/kube-node-lease/leases/node-1', { contentType: 'application/merge-patch+json', body: { spec: { renewTime: '2026-01-01T00:00:00.000000Z' } } });
    expect(renewed.json).toMatchObject({ apiVersion: 'coordination.k8s.io/v1beta1', spec: { holderIdentity: 'node-1', renewTime: '2026-01-01T00:00:00.000000Z' } });
  });

  it('v1.16 stops serving extensions/v1beta1; the objects remain readable through apps/v1', async () => {
    await plane.restart({ gitVersion: 'v1.16.15' });
    expect(await groupVersions()).toEqual(['apps/v1', 'coordination.k8s.io/v1', 'coordination.k8s.io/v1beta1']);
    expect((await call('GET', '/apis/extensions/v1beta1')).status).toBe(404);
    expect((await call('GET', '/apis/extensions/v1beta1/namespaces/default/deployments')).status).toBe(404);
    expect((await call('GET', '/apis/apps/v1/namespaces/default/deployments/old-style')).status).toBe(200);
    // selfLink is gone from v1.16 objects created now
    const p = await call('POST', '/api/v1/namespaces/default/pods', { body: { metadata: { name: 'p116' }, spec: { containers: [{ name: 'c', image: 'i:1' }] } } });
    expect((p.json.metadata as Record<string, unknown>).selfLink).toBeUndefined();
    await plane.restart({ gitVersion: 'v1.10.13' });
  });
});

describe('kubectl against the lab apiserver', () => {
  const kubectl = async (...args: string[]) => execaExec('kubectl', ['--kubeconfig', plane.kubeconfig, ...args], { timeoutMs: 60_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir } });

  it('gets nodes and pods in all namespaces, and describes a pod with its events', async () => {
    await call('POST', '/api/v1/nodes', {
      body: { metadata: { name: 'node-1', labels: { 'node-role.kubernetes.io/master': '' } }, status: { conditions: [{ type: 'Ready', status: 'True' }], nodeInfo: { kubeletVersion: 'v1.10.13' } } },
    });
    const get = await kubectl('get', 'nodes,pods', '-A');
    expect(get.stderr).toBe('');
    expect(get.exitCode).toBe(0);
    expect(get.stdout).toMatch(/node\/node-1\s+Ready\s+master\s+\S+\s+v1\.10\.13/);
    expect(get.stdout).toMatch(/default\s+pod\/pending\s+0\/1\s+Pending\s+0/);
    const describe = await kubectl('describe', 'pod', 'pending', '-n', 'default');
    expect(describe.exitCode).toBe(0);
    expect(describe.stdout).toMatch(/Name:\s+pending/);
    expect(describe.stdout).toMatch(/Node:\s+node-1/);
    expect(describe.stdout).toMatch(/node\.kubernetes\.io\/not-ready:NoExecute op=Exists for 300s/);
    expect(describe.stdout).toMatch(/Scheduled\s+\S+\s+default-scheduler\s+m pending/);
    const version = await kubectl('version', '-o', 'json');
    expect(JSON.parse(version.stdout).serverVersion.gitVersion).toBe('v1.10.13');
  });
});
