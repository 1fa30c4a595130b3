// The drift loop's hash memo (agent/watch/hash-memo.ts): the same inventory as without it, pass
// after pass, computing a container's hashes only when its spec's bytes are new.
import { describe, expect, it } from 'vitest';
import { containerHash, parseJson } from '../../lib/knowledge/hash/index.ts';
import { inventory } from '../../agent/watch/inventory.ts';
import { checkConsistency } from '../../agent/watch/consistency.ts';
import { HashMemo } from '../../agent/watch/hash-memo.ts';
import type { ContainerInfo } from '../../agent/runtime/types.ts';

const spec = (i: number, image = 'nginx:1.2') => ({ name: `c${i}`, image, env: [{ name: 'I', value: String(i) }] });
const pod = (i: number, image?: string) => ({
  metadata: { name: `p${i}`, namespace: 'ns', uid: `u${i}` }, spec: { containers: [spec(i, image)] },
  status: { containerStatuses: [{ name: `c${i}`, containerID: `containerd://id${i}`, state: { running: {} } }] },
});
const list = (pods: object[]) => parseJson(JSON.stringify({ kind: 'PodList', items: pods }));
const running = (i: number, label: string): ContainerInfo => ({
  id: `id${i}`, podSandboxId: 's', name: `c${i}`, attempt: 0, state: 'running', createdAtNs: 0n, image: 'nginx:1.2', imageRef: 'sha256:x',
  labels: { 'io.kubernetes.pod.uid': `u${i}`, 'io.kubernetes.pod.name': `p${i}`, 'io.kubernetes.pod.namespace': 'ns', 'io.kubernetes.container.name': `c${i}` },
  annotations: { 'io.kubernetes.container.hash': label },
});
const ctx = { kubeletVersion: 'v1.14.10', skipFileVersion: 'v1.13.12' };
const N = 20;

describe('inventory hash memo', () => {
  it('gives the inventory computed without it, and hashes each spec once while its bytes stay the same', () => {
    const pods = Array.from({ length: N }, (_, i) => pod(i));
    const containers = Array.from({ length: N }, (_, i) => running(i, containerHash(spec(i), '1.13').label));
    const memo = new HashMemo();
    const plain = inventory(list(pods), containers, undefined, ctx);
    expect(inventory(list(pods), containers, undefined, ctx, memo)).toEqual(plain);
    expect(memo.stats()).toEqual({ hits: 0, misses: N });
    // A new list text with the same bytes per container: every hash comes from the memo.
    expect(inventory(list(pods), containers, undefined, ctx, memo)).toEqual(plain);
    expect(memo.stats()).toEqual({ hits: N, misses: N });
  });

  it('hashes a container again when its spec changed, so drift is still found', () => {
    const memo = new HashMemo();
    const containers = [running(0, containerHash(spec(0), '1.13').label)];
    const [before] = inventory(list([pod(0)]), containers, undefined, ctx, memo);
    expect(before).toMatchObject({ drift: false });
    // The image patched in place: the runtime's label is the old spec's, the API's spec is new.
    const [after] = inventory(list([pod(0, 'nginx:1.3')]), containers, undefined, ctx, memo);
    expect(after).toMatchObject({ drift: true, driftFields: ['image'] });
    expect(after!.hashes.find((h) => h.kubeVersion === '1.14')?.hash).toBe(containerHash(spec(0, 'nginx:1.3'), '1.14').label);
    expect(memo.stats().misses).toBe(2);
  });

  it('forgets what a pass did not see, so it holds one pass of containers at most', () => {
    const memo = new HashMemo();
    const all = Array.from({ length: N }, (_, i) => pod(i));
    inventory(list(all), all.map((_, i) => running(i, 'x')), undefined, ctx, memo);
    inventory(list(all.slice(0, 2)), [running(0, 'x'), running(1, 'x')], undefined, ctx, memo);
    expect(memo.size).toBe(2);
  });

  it('gives the consistency loop the report computed without it, a stale container still stale after its spec changes', () => {
    const pods = Array.from({ length: N }, (_, i) => pod(i));
    const containers = Array.from({ length: N }, (_, i) => running(i, containerHash(spec(i), '1.14').label));
    const memo = new HashMemo();
    const plain = checkConsistency(list(pods), containers, 'v1.14.10');
    expect(plain.allConsistent).toBe(true);
    expect(checkConsistency(list(pods), containers, 'v1.14.10', memo)).toEqual(plain);
    expect(checkConsistency(list(pods), containers, 'v1.14.10', memo)).toEqual(plain);
    expect(memo.stats()).toEqual({ hits: N, misses: N });
    const changed = [pod(0, 'nginx:1.3'), ...pods.slice(1)];
    const after = checkConsistency(list(changed), containers, 'v1.14.10', memo);
    expect(after).toEqual(checkConsistency(list(changed), containers, 'v1.14.10'));
    expect(after.allConsistent).toBe(false);
    expect(after.stale.map((s) => s.container)).toEqual(['c0']);
  });
});
