import { describe, expect, it } from 'vitest';
import { containerHash, parseJson, supportedVersions } from '../../lib/knowledge/hash/index.ts';
import { hashReport, inventory, minorsFromTo } from '../../agent/watch/inventory.ts';
import type { ContainerInfo } from '../../agent/runtime/types.ts';

const web = { name: 'web', image: 'nginx', volumeMounts: [{ name: 't', mountPath: '/t' }] };
const podList = parseJson(JSON.stringify({
  kind: 'PodList',
  items: [{ metadata: { name: 'p1', namespace: 'ns', uid: 'u1' }, spec: { containers: [web] }, status: { containerStatuses: [{ name: 'web', containerID: 'containerd://c1', state: { running: {} } }] } }],
}));
const running = (label: string, uid = 'u1', id = 'c1'): ContainerInfo => ({
  id, podSandboxId: 's', name: 'web', attempt: 0, state: 'running', createdAtNs: 0n, image: 'x', imageRef: 'x',
  labels: { 'io.kubernetes.pod.uid': uid, 'io.kubernetes.pod.name': 'p1', 'io.kubernetes.pod.namespace': 'ns', 'io.kubernetes.container.name': 'web' },
  annotations: { 'io.kubernetes.container.hash': label },
});

describe('inventory', () => {
  it('gives every running container the hash of each supported version and names the versions its label matches', () => {
    const [c] = inventory(podList, [running(containerHash(web, '1.13').label)]);
    expect(c).toMatchObject({ containerId: 'c1', pod: 'ns/p1', containerName: 'web', problem: '' });
    expect(c!.hashes.map((h) => h.kubeVersion)).toEqual([...supportedVersions()]);
    expect(c!.hashes.find((h) => h.kubeVersion === '1.13')?.hash).toBe(containerHash(web, '1.13').label);
    // the hash algorithm is the same from 1.10 to 1.13 for this spec, and changes at 1.14 (volume mounts)
    expect(c!.matchingVersions).toContain('1.13');
    expect(c!.matchingVersions).not.toContain('1.14');
  });
  it('says why a container has no hashes', () => {
    expect(inventory(podList, [running('x', 'u-gone', 'c9')])[0]).toMatchObject({ hashes: [], problem: 'no pod in the API has this container' });
  });
});

describe('hash report', () => {
  it('combines the self-check, the prediction and the consistency join', () => {
    const r = hashReport({ nodeFound: true, nodeName: 'n1', podList, containers: [running(containerHash(web, '1.13').label)], kubeletVersion: 'v1.13.12', targetVersion: 'v1.14.10' });
    expect(r).toMatchObject({ kubeletVersion: '1.13', selfCheck: { ok: true }, predictedRestarts: ['ns/p1/web'], consistent: true, compared: 1, problems: [] });
  });
  it('accepts labels since the skip file\'s version, and is never consistent without the Node', () => {
    const r = hashReport({ nodeFound: false, nodeName: 'n1', podList, containers: [running(containerHash(web, '1.13').label)], kubeletVersion: 'v1.14.10', skipFileVersion: 'v1.13.12' });
    expect(r.selfCheck).toMatchObject({ ok: false, code: 'NODE_NOT_FOUND' });
    expect(r.consistent).toBe(false);
    const found = hashReport({ nodeFound: true, nodeName: 'n1', podList, containers: [running(containerHash(web, '1.13').label)], kubeletVersion: 'v1.14.10', skipFileVersion: 'v1.13.12' });
    expect(found.selfCheck.ok).toBe(true);
    expect(found.consistent).toBe(false); // 1.13 label under a 1.14 kubelet: the file must stay
    expect(minorsFromTo('v1.11.10', '1.14')).toEqual(['1.11', '1.12', '1.13', '1.14']);
  });
});
