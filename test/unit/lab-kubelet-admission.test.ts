import { describe, expect, it } from 'vitest';
import { admissionOrder, admitPod, isExtendedResource, podRequest, type AdmissionNode, type AdmissionPod } from '../../scripts/lab/kubelet/admission.ts';
import { milliValue, value } from '../../scripts/lab/kubelet/quantity.ts';

const LAB_VERSIONS = ['v1.10.13', 'v1.11.10', 'v1.12.10', 'v1.13.12', 'v1.14.10', 'v1.15.12', 'v1.16.15', 'v1.17.17'];
const node: AdmissionNode = { name: 'w1', labels: { 'kubernetes.io/hostname': 'w1', zone: 'a' }, allocatable: { cpu: '2', memory: '4Gi', pods: '3', 'ephemeral-storage': '10Gi', 'example.com/gpu': '0' } };

function pod(name: string, spec: Partial<AdmissionPod['spec']> = {}, created = '2026-01-01T00:00:00Z'): AdmissionPod {
  return { metadata: { name, namespace: 'default', creationTimestamp: created }, spec: { nodeName: 'w1', containers: [{}], ...spec } };
}
const requests = (r: Record<string, string>) => ({ containers: [{ resources: { requests: r } }] });
const affinity = (key: string, operator: string, values?: string[]) => ({
  affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key, operator, ...(values ? { values } : {}) }] }] } } },
});

describe('kubelet re-admission, per predicate and version (1.10-1.17: scheduler predicates; 1.18+: lifecycle GeneralPredicates)', () => {
  for (const v of LAB_VERSIONS) {
    describe(v, () => {
      it('MatchNodeSelector for a nodeSelector the node lacks', () => {
        expect(admitPod(v, pod('p', { nodeSelector: { disk: 'ssd' } }), node, [])).toEqual({ admitted: false, reason: 'MatchNodeSelector', message: 'Pod Predicate MatchNodeSelector failed' });
        expect(admitPod(v, pod('p', { nodeSelector: { zone: 'a' } }), node, [])).toEqual({ admitted: true });
      });
      it('MatchNodeSelector also for required node affinity the node does not satisfy', () => {
        expect(admitPod(v, pod('p', affinity('disk', 'In', ['ssd'])), node, [])).toMatchObject({ admitted: false, reason: 'MatchNodeSelector' });
        expect(admitPod(v, pod('p', affinity('zone', 'In', ['a', 'b'])), node, [])).toEqual({ admitted: true });
        expect(admitPod(v, pod('p', affinity('zone', 'NotIn', ['a'])), node, [])).toMatchObject({ reason: 'MatchNodeSelector' });
        expect(admitPod(v, pod('p', affinity('disk', 'DoesNotExist')), node, [])).toEqual({ admitted: true });
        expect(admitPod(v, pod('p', affinity('zone', 'Exists')), node, [])).toEqual({ admitted: true });
      });
      it('OutOfcpu / OutOfmemory / OutOfephemeral-storage against allocatable minus the pods admitted before', () => {
        const big = pod('a', requests({ cpu: '1500m', memory: '1Gi' }));
        expect(admitPod(v, big, node, [])).toEqual({ admitted: true });
        expect(admitPod(v, pod('b', requests({ cpu: '0.6' })), node, [big])).toMatchObject({ admitted: false, reason: 'OutOfcpu', message: 'Pod Node didn\'t have enough resource: cpu, requested: 600, used: 1500, capacity: 2000' });
        expect(admitPod(v, pod('b', requests({ cpu: '0.5' })), node, [big])).toEqual({ admitted: true });
        expect(admitPod(v, pod('b', requests({ memory: '3.5Gi' })), node, [big])).toMatchObject({ reason: 'OutOfmemory' });
        expect(admitPod(v, pod('b', requests({ 'ephemeral-storage': '11Gi' })), node, [])).toMatchObject({ reason: 'OutOfephemeral-storage' });
      });
      it('OutOfpods once allocatable pods are taken', () => {
        const others = [pod('a'), pod('b'), pod('c')];
        expect(admitPod(v, pod('d'), node, others)).toMatchObject({ admitted: false, reason: 'OutOfpods' });
      });
      it('an extended resource the node names with 0 (device plugin not re-registered) fails; one it does not name is dropped', () => {
        expect(admitPod(v, pod('g', requests({ 'example.com/gpu': '1' })), node, [])).toMatchObject({ admitted: false, reason: 'OutOfexample.com/gpu' });
        expect(admitPod(v, pod('g', requests({ 'example.com/gpu': '1' })), { ...node, allocatable: { ...node.allocatable, 'example.com/gpu': '2' } }, [])).toEqual({ admitted: true });
        expect(admitPod(v, pod('g', requests({ 'other.io/fpga': '1' })), node, [])).toEqual({ admitted: true });
      });
      it('PodFitsHostPorts for a host port an admitted pod holds (same protocol, overlapping IP)', () => {
        const holder = pod('a', { containers: [{ ports: [{ containerPort: 80, hostPort: 8080, protocol: 'TCP' }] }] });
        expect(admitPod(v, pod('b', { containers: [{ ports: [{ containerPort: 81, hostPort: 8080 }] }] }), node, [holder])).toEqual({ admitted: false, reason: 'PodFitsHostPorts', message: 'Pod Predicate PodFitsHostPorts failed' });
        expect(admitPod(v, pod('b', { containers: [{ ports: [{ containerPort: 81, hostPort: 8080, protocol: 'UDP' }] }] }), node, [holder])).toEqual({ admitted: true });
        expect(admitPod(v, pod('b', { containers: [{ ports: [{ containerPort: 81 }] }] }), node, [holder])).toEqual({ admitted: true });
      });
      it('HostName when bound to another node', () => {
        expect(admitPod(v, pod('p', { nodeName: 'w2' }), node, [])).toMatchObject({ reason: 'HostName' });
      });
      it('reports the first failure: resources before the essential predicates', () => {
        expect(admitPod(v, pod('p', { nodeSelector: { disk: 'ssd' }, containers: [{ resources: { requests: { cpu: '3' } } }] }), node, [])).toMatchObject({ reason: 'OutOfcpu' });
      });
    });
  }

  it('matchFields on metadata.name counts from 1.11 (1.10 has no such field: the term is empty and matches nothing)', () => {
    const byName = { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['w1'] }] }] } } } };
    expect(admitPod('v1.11.10', pod('p', byName), node, [])).toEqual({ admitted: true });
    expect(admitPod('v1.10.13', pod('p', byName), node, [])).toMatchObject({ reason: 'MatchNodeSelector' });
  });

  it('1.18+ names the framework plugins: NodeAffinity, NodeName, NodePorts, in that order after resources', () => {
    expect(admitPod('v1.18.20', pod('p', { nodeSelector: { disk: 'ssd' } }), node, [])).toMatchObject({ reason: 'NodeAffinity', message: 'Pod Predicate NodeAffinity failed' });
    expect(admitPod('v1.18.20', pod('p', { nodeName: 'w2', nodeSelector: { disk: 'ssd' } }), node, [])).toMatchObject({ reason: 'NodeAffinity' });
    expect(admitPod('v1.17.17', pod('p', { nodeName: 'w2', nodeSelector: { disk: 'ssd' } }), node, [])).toMatchObject({ reason: 'HostName' });
  });

  it('a pod request is the containers\' sum raised to any init container\'s', () => {
    const r = podRequest({ metadata: { name: 'x', namespace: 'd' }, spec: { containers: [{ resources: { requests: { cpu: '100m' } } }, { resources: { requests: { cpu: '200m' } } }], initContainers: [{ resources: { requests: { cpu: '1', memory: '1Mi' } } }] } });
    expect(r.get('cpu')).toBe(1000n);
    expect(r.get('memory')).toBe(1048576n);
  });

  it('admits oldest first', () => {
    expect(admissionOrder([pod('b', {}, '2026-01-02T00:00:00Z'), pod('a', {}, '2026-01-03T00:00:00Z'), pod('c', {}, '2026-01-01T00:00:00Z')]).map((p) => p.metadata.name)).toEqual(['c', 'b', 'a']);
  });

  it('extended resource names and quantities', () => {
    expect(isExtendedResource('nvidia.com/gpu')).toBe(true);
    expect(isExtendedResource('kubernetes.io/foo')).toBe(false);
    expect(isExtendedResource('cpu')).toBe(false);
    expect(milliValue('0.5')).toBe(500n);
    expect(milliValue('1e3')).toBe(1_000_000n);
    expect(milliValue('100m')).toBe(100n);
    expect(value('1Ki')).toBe(1024n);
    expect(value('1.5Gi')).toBe(1610612736n);
    expect(value('0.1')).toBe(1n);
    expect(() => milliValue('abc')).toThrow('not a resource quantity');
  });
});
