import { describe, expect, it } from 'vitest';
import { containerHash, parseJson } from '../../lib/knowledge/hash/index.ts';
import { checkConsistency } from '../../agent/watch/consistency.ts';
import { consistencyPass, type ConsistencyPorts } from '../../agent/watch/consistency-loop.ts';
import type { ContainerInfo } from '../../agent/runtime/types.ts';
import { silentLogger } from '../../lib/logger.ts';

const web = { name: 'web', image: 'nginx', volumeMounts: [{ name: 't', mountPath: '/t' }] };
const app = { name: 'app', image: 'app:1' };
const podList = parseJson(JSON.stringify({
  kind: 'PodList',
  items: [{ metadata: { name: 'p1', namespace: 'ns', uid: 'u1' }, spec: { containers: [web, app] } }],
}));

function running(name: string, hash: string, uid = 'u1'): ContainerInfo {
  return {
    id: `id-${name}-${uid}`, podSandboxId: 's', name, attempt: 0, state: 'running', createdAtNs: 0n, image: 'x', imageRef: 'x',
    labels: { 'io.kubernetes.pod.uid': uid, 'io.kubernetes.pod.name': 'p1', 'io.kubernetes.pod.namespace': 'ns', 'io.kubernetes.container.name': name },
    annotations: { 'io.kubernetes.container.hash': hash },
  };
}

describe('hash consistency', () => {
  it('lists containers whose label is another version\'s hash', () => {
    const containers = [running('web', containerHash(web, '1.13').label), running('app', containerHash(app, '1.13').label)];
    const r = checkConsistency(podList, containers, 'v1.14.10');
    // 1.13 -> 1.14 changes the hash of containers with a volume mount only
    expect(r.stale.map((s) => s.container)).toEqual(['web']);
    expect(r.stale[0]).toMatchObject({ pod: 'ns/p1', label: containerHash(web, '1.13').label, expected: containerHash(web, '1.14').label });
    expect(r.allConsistent).toBe(false);
    expect(r.consistent).toBe(1);
  });

  it('is consistent when every running container carries the running version\'s hash', () => {
    const containers = [running('web', containerHash(web, '1.14').label), running('app', containerHash(app, '1.14').label), { ...running('app', 'dead'), state: 'exited' as const }];
    expect(checkConsistency(podList, containers, '1.14').allConsistent).toBe(true);
  });

  it('does not call a container of a pod the API does not list consistent', () => {
    const r = checkConsistency(podList, [running('web', containerHash(web, '1.14').label, 'u-gone')], '1.14');
    expect(r.unknown).toHaveLength(1);
    expect(r.allConsistent).toBe(false);
  });
});

describe('consistency pass', () => {
  function ports(overrides: Partial<ConsistencyPorts> & { hashVersion: string }): ConsistencyPorts & { removed: number } {
    const state = { removed: 0 };
    return Object.assign(state, {
      listNodePods: async () => podList,
      runtime: { listContainers: async () => [running('web', containerHash(web, overrides.hashVersion).label), running('app', containerHash(app, overrides.hashVersion).label)] },
      kubelet: async () => ({ version: 'v1.14.10', active: true }),
      runInProgress: () => false,
      skipFile: { present: async () => true, remove: async () => void state.removed++ },
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
      ports({ hashVersion: '1.14', skipFile: { present: async () => false, remove: async () => { throw new Error('must not remove'); } } }),
    ]) {
      expect(await consistencyPass(p)).toMatchObject({ kind: 'skipped' });
      expect(p.removed).toBe(0);
    }
  });
});
