import { describe, expect, it } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import { restartedBetween, settled, snapshotOf } from '../../scripts/demo/snapshot.ts';

const pod = (name: string, containers: [string, string, number][], phase = 'Running'): V1Pod => ({
  metadata: { name, namespace: 'ns' },
  spec: { nodeName: 'w1', containers: containers.map(([n]) => ({ name: n })) },
  status: { phase, containerStatuses: containers.map(([n, id, restartCount]) => ({ name: n, containerID: id, restartCount, ready: true, image: '', imageID: '' })) },
});

describe('demo restart accounting', () => {
  it('counts a container as restarted when its id changes or its restart count grows', () => {
    const before = snapshotOf([pod('a', [['c1', 'id1', 0], ['c2', 'id2', 0]]), pod('b', [['c', 'id3', 1]])]);
    const after = snapshotOf([pod('a', [['c1', 'id1', 0], ['c2', 'id9', 1]]), pod('b', [['c', 'id3', 2]])]);
    expect(restartedBetween(before, after)).toEqual({ restarted: ['ns/a/c2', 'ns/b/c'], gone: [] });
  });
  it('reports containers that disappeared (a killed pod)', () => {
    const before = snapshotOf([pod('a', [['c', 'id1', 0]])]);
    const after = snapshotOf([pod('a', [['c', 'id1', 0]], 'Failed')]);
    expect(restartedBetween(before, after)).toEqual({ restarted: [], gone: ['ns/a/c'] });
  });
  it('calls pods settled only when all run with every container reported', () => {
    expect(settled([pod('a', [['c', 'id', 0]])])).toBe(true);
    expect(settled([pod('a', [['c', 'id', 0]], 'Pending')])).toBe(false);
    const partial = pod('a', [['c', 'id', 0]]);
    partial.spec!.containers.push({ name: 'd' });
    expect(settled([partial])).toBe(false);
  });
});
