import { describe, expect, it } from 'vitest';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { clusterPreflight, toleratesNoExecute } from '../../coordinator/preflight/cluster.ts';

const node = (name: string, labels: Record<string, string>): V1Node => ({ metadata: { name, labels } });
const pod = (name: string, spec: Partial<NonNullable<V1Pod['spec']>>, status: V1Pod['status'] = { phase: 'Running' }): V1Pod => ({
  metadata: { name, namespace: 'ns' }, spec: { containers: [{ name: 'c' }], nodeName: 'n1', ...spec }, status,
});
const tolerations = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
];

describe('cluster preflight', () => {
  it('finds pods whose nodeSelector label their node lacks or has with another value', () => {
    const r = clusterPreflight([node('n1', { disk: 'hdd', zone: 'a' })], [
      pod('ok', { nodeSelector: { zone: 'a' }, tolerations }),
      pod('wrong', { nodeSelector: { disk: 'ssd' }, tolerations }),
      pod('absent', { nodeSelector: { gpu: 'yes' }, tolerations }),
      pod('failed', { nodeSelector: { gpu: 'yes' } }, { phase: 'Failed', reason: 'MatchNodeSelector' }),
    ]);
    expect(r.selectorProblems).toEqual([
      { pod: 'ns/wrong', node: 'n1', missing: [{ key: 'disk', want: 'ssd', has: 'hdd' }] },
      { pod: 'ns/absent', node: 'n1', missing: [{ key: 'gpu', want: 'yes', has: undefined }] },
    ]);
    expect(r.notRunning).toEqual([{ pod: 'ns/failed', phase: 'Failed', reason: 'MatchNodeSelector' }]);
  });

  it('finds pods a not-ready or unreachable NoExecute taint would evict at once', () => {
    const r = clusterPreflight([node('n1', {})], [
      pod('old', {}),
      pod('half', { tolerations: [tolerations[0]!] }),
      pod('new', { tolerations }),
      pod('daemon', { tolerations: [{ operator: 'Exists' }] }),
    ]);
    expect(r.withoutEvictionTolerations).toEqual(['ns/old', 'ns/half']);
  });

  it('reads tolerations as the taint manager matches them', () => {
    expect(toleratesNoExecute([{ operator: 'Exists', effect: 'NoSchedule' }], 'node.kubernetes.io/not-ready')).toBe(false);
    expect(toleratesNoExecute([{ key: 'node.kubernetes.io/not-ready', operator: 'Exists' }], 'node.kubernetes.io/not-ready')).toBe(true);
    expect(toleratesNoExecute([{ key: 'node.kubernetes.io/not-ready', operator: 'Equal', effect: 'NoExecute' }], 'node.kubernetes.io/unreachable')).toBe(false);
  });

  it('lists containers that already restarted, as the baseline', () => {
    const r = clusterPreflight([node('n1', {})], [pod('p', { tolerations }, { phase: 'Running', containerStatuses: [{ name: 'c', restartCount: 2, ready: true, image: '', imageID: '' }] })]);
    expect(r.restartedContainers).toEqual([{ pod: 'ns/p', container: 'c', restartCount: 2 }]);
  });
});
