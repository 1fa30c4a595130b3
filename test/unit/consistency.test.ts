import { describe, expect, it } from 'vitest';
import { containerHash, parseJson } from '../../lib/knowledge/hash/index.ts';
import { checkConsistency, selfCheckVerdict } from '../../agent/watch/consistency.ts';
import { consistencyPass, type ConsistencyPorts, type KubeletState } from '../../agent/watch/consistency-loop.ts';
import type { ContainerInfo } from '../../agent/runtime/types.ts';
import { silentLogger } from '../../lib/logger.ts';

const web = { name: 'web', image: 'nginx', volumeMounts: [{ name: 't', mountPath: '/t' }] };
const app = { name: 'app', image: 'app:1' };
const setup = { name: 'setup', image: 'busybox', command: ['sh', '-c', 'sleep 1d'] };

const runningStatus = (name: string, uid = 'u1') => ({ name, containerID: `containerd://id-${name}-${uid}`, state: { running: { startedAt: '2026-01-01T00:00:00Z' } } });

const pod = (extra: { initContainers?: object[]; initStatuses?: object[] } = {}) => ({
  metadata: { name: 'p1', namespace: 'ns', uid: 'u1' },
  spec: { ...(extra.initContainers ? { initContainers: extra.initContainers } : {}), containers: [web, app] },
  status: { containerStatuses: [runningStatus('web'), runningStatus('app')], ...(extra.initStatuses ? { initContainerStatuses: extra.initStatuses } : {}) },
});
const list = (...items: object[]) => parseJson(JSON.stringify({ kind: 'PodList', items }));
const podList = list(pod());

function running(name: string, hash: string, uid = 'u1', podName = 'p1'): ContainerInfo {
  return {
    id: `id-${name}-${uid}`, podSandboxId: 's', name, attempt: 0, state: 'running', createdAtNs: 0n, image: 'x', imageRef: 'x',
    labels: { 'io.kubernetes.pod.uid': uid, 'io.kubernetes.pod.name': podName, 'io.kubernetes.pod.namespace': 'ns', 'io.kubernetes.container.name': name },
    annotations: { 'io.kubernetes.container.hash': hash },
  };
}
const both = (v: string) => [running('web', containerHash(web, v).label), running('app', containerHash(app, v).label)];

describe('hash consistency (a join of the API and the runtime)', () => {
  it('lists containers whose label is another version\'s hash', () => {
    const r = checkConsistency(podList, both('1.13'), 'v1.14.10');
    // 1.13 -> 1.14 changes the hash of containers with a volume mount only
    expect(r.stale.map((s) => s.container)).toEqual(['web']);
    expect(r.stale[0]).toMatchObject({ pod: 'ns/p1', label: containerHash(web, '1.13').label, expected: containerHash(web, '1.14').label });
    expect(r.allConsistent).toBe(false);
    expect(r).toMatchObject({ compared: 2, consistent: 1 });
  });

  it('is consistent when every running container on both sides carries the running version\'s hash', () => {
    const r = checkConsistency(podList, [...both('1.14'), { ...running('app', 'dead'), id: 'old', state: 'exited' as const }], '1.14');
    expect(r).toMatchObject({ allConsistent: true, compared: 2, consistent: 2, problems: [] });
  });

  it('does not call a container of a pod the API does not list consistent', () => {
    const r = checkConsistency(podList, [...both('1.14'), running('web', containerHash(web, '1.14').label, 'u-gone')], '1.14');
    expect(r.unknown).toHaveLength(1);
    expect(r.allConsistent).toBe(false);
  });

  // Failed on 9fc2631: an answer of [] from the runtime gave allConsistent: true.
  it('is never consistent on an empty runtime view while the API reports running containers', () => {
    const r = checkConsistency(podList, [], '1.14');
    expect(r.allConsistent).toBe(false);
    expect(r.missing.map((m) => m.container).sort()).toEqual(['app', 'web']);
    expect(r.problems.map((p) => p.kind)).toEqual(['nothing-compared', 'missing']);
  });

  // Failed on 9fc2631: the one stale container missing from the runtime's answer went unnoticed.
  it('is not consistent when the runtime misses the one stale container', () => {
    const r = checkConsistency(podList, [running('app', containerHash(app, '1.14').label)], '1.14');
    expect(r.allConsistent).toBe(false);
    expect(r.missing).toEqual([{ containerId: 'id-web-u1', pod: 'ns/p1', container: 'web' }]);
  });

  // Failed on 9fc2631: zero compared was a pass.
  it('never passes with zero containers compared', () => {
    expect(checkConsistency(list(), [], '1.14').allConsistent).toBe(false);
  });

  it('joins init containers through status.initContainerStatuses', () => {
    const p = list(pod({ initContainers: [setup], initStatuses: [runningStatus('setup')] }));
    const withInit = [...both('1.14'), running('setup', containerHash(setup, '1.14').label)];
    expect(checkConsistency(p, withInit, '1.14')).toMatchObject({ allConsistent: true, compared: 3 });
    const r = checkConsistency(p, both('1.14'), '1.14');
    expect(r.missing.map((m) => m.container)).toEqual(['setup']);
    expect(r.allConsistent).toBe(false);
  });

  it('is not consistent when the API status names another container id (a restart the API has not seen)', () => {
    const r = checkConsistency(podList, [running('web', containerHash(web, '1.14').label), { ...running('app', containerHash(app, '1.14').label), id: 'id-new' }], '1.14');
    expect(r.allConsistent).toBe(false);
    expect(r.unknown.map((u) => u.containerId)).toEqual(['id-new']);
    expect(r.missing.map((m) => m.containerId)).toEqual(['id-app-u1']);
  });

  // Failed on 9fc2631: the mirror pod's uid is not the containers' uid label, so static pods were
  // "unknown" and the skip file was never removed on control-plane nodes.
  it('matches static pods by the mirror pod\'s kubernetes.io/config.hash and predicts their restarts', () => {
    const hash = '6a2d3c4e5f60718293a4b5c6d7e8f901';
    const mirror = {
      metadata: { name: 'etcd-n1', namespace: 'ns', uid: 'api-uid', annotations: { 'kubernetes.io/config.hash': hash, 'kubernetes.io/config.mirror': hash, 'kubernetes.io/config.source': 'file' } },
      spec: { containers: [web] },
      status: { containerStatuses: [runningStatus('web', hash)] },
    };
    const p = list(pod(), mirror);
    const ok = checkConsistency(p, [...both('1.14'), running('web', containerHash(web, '1.14').label, hash, 'etcd-n1')], '1.14');
    expect(ok).toMatchObject({ allConsistent: true, compared: 3 });
    const next = checkConsistency(p, [...both('1.13'), running('web', containerHash(web, '1.13').label, hash, 'etcd-n1')], '1.14');
    expect(next.stale.map((s) => s.pod).sort()).toEqual(['ns/etcd-n1', 'ns/p1']);
  });

  it('reports a spec kip cannot hash instead of throwing, and does not pass', () => {
    const bad = { ...pod(), spec: { containers: [{ ...web, ports: 'not-an-array' }, app] } };
    const r = checkConsistency(list(bad), both('1.14'), '1.14');
    expect(r.allConsistent).toBe(false);
    expect(r.undecodable.map((u) => u.container)).toEqual(['web']);
  });
});

describe('self-check verdict (for preflight)', () => {
  const base = { nodeFound: true, nodeName: 'n1', podList, accepted: ['1.14'] };
  it('passes only on a complete, non-empty join', () => {
    expect(selfCheckVerdict({ ...base, containers: both('1.14') })).toMatchObject({ ok: true, message: expect.stringContaining('all 2 running containers') });
    expect(selfCheckVerdict({ ...base, containers: [] })).toMatchObject({ ok: false, code: 'HASH_SELF_CHECK_INCOMPLETE' });
    expect(selfCheckVerdict({ ...base, podList: list(), containers: [] })).toMatchObject({ ok: false, code: 'HASH_SELF_CHECK_INCOMPLETE' });
  });
  it('names a node the API does not know', () => {
    expect(selfCheckVerdict({ ...base, nodeFound: false, containers: both('1.14') })).toMatchObject({ ok: false, code: 'NODE_NOT_FOUND', message: expect.stringContaining('"n1"') });
  });
  it('fails on a label no accepted version computes, and accepts any version since the skip file\'s', () => {
    expect(selfCheckVerdict({ ...base, containers: [running('web', 'deadbeef'), running('app', containerHash(app, '1.14').label)] })).toMatchObject({ ok: false, code: 'HASH_SELF_CHECK_FAILED' });
    expect(selfCheckVerdict({ ...base, accepted: ['1.13', '1.14'], containers: [running('web', containerHash(web, '1.13').label), running('app', containerHash(app, '1.14').label)] })).toMatchObject({ ok: true });
  });
});

describe('consistency pass', () => {
  type TestPorts = ConsistencyPorts & { removed: number };
  function ports(overrides: Partial<ConsistencyPorts> & { hashVersion: string; skip?: () => string | undefined }): TestPorts {
    const state = { removed: 0 };
    const read = async () => (overrides.skip ? overrides.skip() : 'v1.13.12,1574812800');
    return Object.assign(state, {
      nodeExists: async () => true,
      listNodePods: async () => podList,
      runtime: { listContainers: async () => both(overrides.hashVersion) },
      kubelet: async (): Promise<KubeletState> => ({ version: 'v1.14.10', active: true }),
      runInProgress: () => false,
      // present: the shape of the port before 8a; kept so the tests run (and fail) on the old code too
      skipFile: { read, present: async () => (await read()) !== undefined, remove: async (): Promise<void> => void state.removed++ },
      logger: silentLogger(),
      ...overrides,
    });
  }

  it('removes the skip file only when everything is consistent', async () => {
    const stale = ports({ hashVersion: '1.13' });
    expect(await consistencyPass(stale)).toMatchObject({ kind: 'checked', removedSkipFile: false });
    expect(stale.removed).toBe(0);
    const fresh = ports({ hashVersion: '1.14' });
    expect(await consistencyPass(fresh)).toMatchObject({ kind: 'checked', removedSkipFile: true });
    expect(fresh.removed).toBe(1);
  });

  it('never acts during a run, with the kubelet down, or without a skip file', async () => {
    for (const p of [
      ports({ hashVersion: '1.14', runInProgress: () => true }),
      ports({ hashVersion: '1.14', kubelet: async () => ({ version: 'v1.14.10', active: false }) }),
      ports({ hashVersion: '1.14', skip: () => undefined }),
    ]) {
      expect(await consistencyPass(p)).toMatchObject({ kind: 'skipped' });
      expect(p.removed).toBe(0);
    }
  });

  // Failed on 9fc2631 (the file was removed on an empty runtime view; errors escaped the pass).
  it('keeps the file on incomplete information: no Node, an unreachable apiserver, a failed runtime call, an empty runtime', async () => {
    const cases: TestPorts[] = [
      ports({ hashVersion: '1.14', nodeExists: async () => false }),
      ports({ hashVersion: '1.14', listNodePods: async () => { throw new Error('connect ECONNREFUSED 10.0.0.1:6443'); } }),
      ports({ hashVersion: '1.14', runtime: { listContainers: async () => { throw new Error('CRI unavailable'); } } }),
    ];
    for (const p of cases) {
      expect(await consistencyPass(p)).toMatchObject({ kind: 'incomplete' });
      expect(p.removed).toBe(0);
    }
    const empty = ports({ hashVersion: '1.14', runtime: { listContainers: async () => [] } });
    expect(await consistencyPass(empty)).toMatchObject({ kind: 'checked', removedSkipFile: false });
    expect(empty.removed).toBe(0);
  });

  // Failed on 9fc2631: nothing was read again between the check and the removal.
  it('reads the skip file and the kubelet again just before removing, and keeps the file when either changed', async () => {
    const versions = ['v1.13.12,1574812800', 'v1.14.10,1574899999'];
    const rewritten = ports({ hashVersion: '1.14', skip: () => versions.shift() ?? 'v1.14.10,1574899999' });
    expect(await consistencyPass(rewritten)).toMatchObject({ kind: 'skipped', reason: 'the skip file changed during the check' });
    expect(rewritten.removed).toBe(0);

    const kubelets: KubeletState[] = [{ version: 'v1.14.10', active: true }, { version: 'v1.13.12', active: true }];
    const swapped = ports({ hashVersion: '1.14', kubelet: async () => kubelets.shift() ?? { version: 'v1.13.12', active: true } });
    expect(await consistencyPass(swapped)).toMatchObject({ kind: 'skipped' });
    expect(swapped.removed).toBe(0);

    const states: KubeletState[] = [{ version: 'v1.14.10', active: true }, { version: 'v1.14.10', active: false }];
    const stopped = ports({ hashVersion: '1.14', kubelet: async () => states.shift() ?? { version: 'v1.14.10', active: false } });
    expect(await consistencyPass(stopped)).toMatchObject({ kind: 'skipped' });
    expect(stopped.removed).toBe(0);
  });
});
