// Hash drift, owners and old hashes in the inventory (issue 11 items 5 and 6), pure.
import { describe, expect, it } from 'vitest';
import { containerHash, parseJson } from '../../lib/knowledge/hash/index.ts';
import { inventory } from '../../agent/watch/inventory.ts';
import { driftEvents } from '../../agent/watch/drift.ts';
import { podOwner } from '../../agent/watch/owner.ts';
import type { ContainerInfo } from '../../agent/runtime/types.ts';

const web = { name: 'web', image: 'nginx:1.2', volumeMounts: [{ name: 't', mountPath: '/t' }] };
const pod = (spec: object, meta: object = {}) => ({ metadata: { name: 'p1', namespace: 'ns', uid: 'u1', ...meta }, spec: { containers: [spec] }, status: { containerStatuses: [{ name: 'web', containerID: 'containerd://c1', state: { running: {} } }] } });
const list = (...pods: object[]) => parseJson(JSON.stringify({ kind: 'PodList', items: pods }));
const running = (label: string, image = 'nginx:1.2'): ContainerInfo => ({
  id: 'c1', podSandboxId: 's', name: 'web', attempt: 0, state: 'running', createdAtNs: 0n, image, imageRef: 'sha256:x',
  labels: { 'io.kubernetes.pod.uid': 'u1', 'io.kubernetes.pod.name': 'p1', 'io.kubernetes.pod.namespace': 'ns', 'io.kubernetes.container.name': 'web' },
  annotations: { 'io.kubernetes.container.hash': label },
});
const ctx = { kubeletVersion: 'v1.14.10', skipFileVersion: 'v1.13.12' };

describe('hash drift', () => {
  it('is no drift for a label of a version from the skip file\'s to the running one, and old_hash says whether it is the running one\'s', () => {
    const [old] = inventory(list(pod(web)), [running(containerHash(web, '1.13').label)], undefined, ctx);
    expect(old).toMatchObject({ drift: false, oldHash: true, driftFields: [] });
    const [cur] = inventory(list(pod(web)), [running(containerHash(web, '1.14').label)], undefined, ctx);
    expect(cur).toMatchObject({ drift: false, oldHash: false });
  });
  it('finds an image patched in place on a bare pod: the runtime runs the old image', () => {
    const before = { ...web, image: 'nginx:1.1' };
    const [c] = inventory(list(pod(web)), [running(containerHash(before, '1.13').label, 'nginx:1.1')], undefined, ctx);
    expect(c).toMatchObject({ drift: true, oldHash: true, driftFields: ['image'], ownerKind: 'Pod', ownerName: 'p1' });
    expect(c!.driftDetail).toContain('nginx:1.1');
  });
  it('finds a field set since the container started (hashing the spec without it), and says so when nothing explains the label', () => {
    const withEnv = { ...web, env: [{ name: 'A', value: '1' }] };
    const [c] = inventory(list(pod(withEnv)), [running(containerHash(web, '1.13').label)], undefined, ctx);
    expect(c).toMatchObject({ drift: true, driftFields: ['env'] });
    const [d] = inventory(list(pod(web)), [running('deadbeef')], undefined, ctx);
    expect(d).toMatchObject({ drift: true, driftFields: [] });
    expect(d!.driftDetail).toContain('could not be found');
  });
  it('is never reported without a skip file version', () => {
    const [c] = inventory(list(pod(web)), [running('deadbeef')], undefined, { kubeletVersion: 'v1.14.10' });
    expect(c).toMatchObject({ drift: false, oldHash: true });
  });
  it('becomes one HASH_DRIFT event per container and label, again after it went away', () => {
    const seen = new Map<string, string>();
    const item = { containerId: 'c1', pod: 'ns/p1', podUid: 'u1', containerName: 'web', hashLabel: 'aa', drift: true, driftFields: ['image'], driftDetail: 'd' };
    expect(driftEvents(seen, [item], 5)).toEqual([expect.objectContaining({ kind: 'HASH_DRIFT', podNamespace: 'ns', podName: 'p1', containerName: 'web', afterId: 'c1', reason: 'image' })]);
    expect(driftEvents(seen, [item], 6)).toEqual([]);
    expect(driftEvents(seen, [{ ...item, drift: false }], 7)).toEqual([]);
    expect(driftEvents(seen, [item], 8)).toHaveLength(1);
  });
});

describe('pod owner', () => {
  const owned = (kind: string, name: string, labels: Record<string, string> = {}) => parseJson(JSON.stringify({ metadata: { name: 'x-1', labels, ownerReferences: [{ kind: 'Other', name: 'no', controller: false }, { kind, name, controller: true }] } }));
  it('reads a Deployment off a ReplicaSet named <deployment>-<pod-template-hash>', () => {
    expect(podOwner(owned('ReplicaSet', 'web-7d4b9c', { 'pod-template-hash': '7d4b9c' }))).toEqual({ kind: 'Deployment', name: 'web' });
    expect(podOwner(owned('ReplicaSet', 'bare-rs', { 'pod-template-hash': '7d4b9c' }))).toEqual({ kind: 'ReplicaSet', name: 'bare-rs' });
    expect(podOwner(owned('ReplicaSet', 'bare-rs'))).toEqual({ kind: 'ReplicaSet', name: 'bare-rs' });
  });
  it('names StatefulSets, DaemonSets, bare pods and static pods', () => {
    expect(podOwner(owned('StatefulSet', 'db'))).toEqual({ kind: 'StatefulSet', name: 'db' });
    expect(podOwner(owned('DaemonSet', 'proxy'))).toEqual({ kind: 'DaemonSet', name: 'proxy' });
    expect(podOwner(parseJson('{"metadata":{"name":"lonely"}}'))).toEqual({ kind: 'Pod', name: 'lonely' });
    expect(podOwner(parseJson('{"metadata":{"name":"etcd-n1","annotations":{"kubernetes.io/config.mirror":"h"}},"spec":{"nodeName":"n1"}}'))).toEqual({ kind: 'Node', name: 'n1' });
  });
});
