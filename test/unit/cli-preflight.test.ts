import { describe, expect, it } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import { main } from '../../coordinator/cli.ts';
import { clusterFindings, quantity } from '../../coordinator/preflight/rules.ts';
import { fakeCluster, fakePorts, node, recordingIo } from './cli-fakes.ts';

const tolerations = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
];
function pod(name: string, nodeName: string, spec: Partial<NonNullable<V1Pod['spec']>> = {}, annotations: Record<string, string> = {}): V1Pod {
  return {
    metadata: { namespace: 'default', name, annotations },
    spec: { nodeName, containers: [{ name: 'main', image: 'busybox' }], tolerations, ...spec },
    status: { phase: 'Running', containerStatuses: [{ name: 'main', restartCount: 0, ready: true, image: 'busybox', imageID: '' }] },
  };
}

describe('preflight rules', () => {
  const w1 = node('w1', 'v1.12.10', { labels: { disk: 'ssd' } });
  w1.status!.allocatable = { cpu: '2', memory: '1Gi', 'example.com/gpu': '1' };
  const w2 = node('w2', 'v1.12.10', { ready: false });

  it.each([
    ['a nodeSelector label the node lacks', pod('a', 'w1', { nodeSelector: { disk: 'nvme' } }), 'node-selector', 'error'],
    ['required node affinity that no longer matches', pod('b', 'w1', { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }] } } } }), 'node-affinity', 'error'],
    ['an extended resource beyond allocatable', pod('c', 'w1', { containers: [{ name: 'main', image: 'x', resources: { requests: { 'example.com/gpu': '2' } } }] }), 'extended-resource', 'error'],
    ['cpu requests beyond allocatable', pod('d', 'w1', { containers: [{ name: 'main', image: 'x', resources: { requests: { cpu: '2500m' } } }] }), 'allocatable', 'error'],
    ['a static (mirror) pod', pod('e', 'w1', {}, { 'kubernetes.io/config.mirror': 'abc' }), 'static-pod', 'warning'],
    ['a pod without eviction tolerations', pod('f', 'w1', { tolerations: [] }), 'eviction-tolerations', 'warning'],
  ])('finds %s', (_name, p, check, severity) => {
    const found = clusterFindings([w1], [p]);
    expect(found).toEqual([expect.objectContaining({ check, severity, why: expect.any(String), fix: expect.any(String) })]);
  });

  it('finds NotReady nodes, and nothing for a healthy pod', () => {
    expect(clusterFindings([w1, w2], [pod('ok', 'w1', { nodeSelector: { disk: 'ssd' } })]).map((f) => `${f.check}:${f.object}`)).toEqual(['node-ready:node w2']);
  });

  it('parses quantities', () => {
    expect(quantity('250m')).toBe(0.25);
    expect(quantity('1Gi')).toBe(2 ** 30);
    expect(quantity('2')).toBe(2);
  });
});

describe('kip preflight', () => {
  it('prints one table, -o json, exits 1 on errors, and --fix node-labels restores the label (--dry-run only says so)', async () => {
    const cluster = fakeCluster('v1.12.10', [node('w1', 'v1.12.10', { labels: { disk: 'hdd' } })], [pod('db', 'w1', { nodeSelector: { disk: 'ssd' } })]);
    const table = recordingIo();
    expect(await main(['preflight', '--kubeconfig', '/dev/null'], table, fakePorts(cluster))).toBe(1);
    expect(table.out).toMatch(/ERROR +node-selector +pod default\/db on w1/);
    const json = recordingIo();
    expect(await main(['preflight', '--kubeconfig', '/dev/null', '-o', 'json'], json, fakePorts(cluster))).toBe(1);
    expect(JSON.parse(json.out)).toMatchObject({ ok: false, findings: [{ check: 'node-selector', fixable: { node: 'w1', labels: { disk: 'ssd' } } }] });
    const dry = recordingIo();
    expect(await main(['preflight', '--kubeconfig', '/dev/null', '--fix', 'node-labels', '--dry-run'], dry, fakePorts(cluster))).toBe(1);
    expect(dry.out).toContain('fixed: would label node w1 disk=ssd');
    expect(cluster.patches).toEqual([]);
    const fix = recordingIo();
    expect(await main(['preflight', '--kubeconfig', '/dev/null', '--fix', 'node-labels'], fix, fakePorts(cluster))).toBe(0);
    expect(cluster.patches).toEqual([{ node: 'w1', labels: { disk: 'ssd' } }]);
    const after = recordingIo();
    expect(await main(['preflight', '--kubeconfig', '/dev/null'], after, fakePorts(cluster))).toBe(0);
    expect(after.out).toContain('preflight: ok');
  });

  it('refuses a fix it does not know (exit 2)', async () => {
    const io = recordingIo();
    expect(await main(['preflight', '--kubeconfig', '/dev/null', '--fix', 'everything'], io, fakePorts(fakeCluster('v1.12.10', [])))).toBe(2);
    expect(io.err).toContain('kip applies only these fixes: node-labels');
  });
});
