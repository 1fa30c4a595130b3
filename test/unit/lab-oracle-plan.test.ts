import { describe, expect, it } from 'vitest';
import { parseJson } from '../../lib/knowledge/hash/index.ts';
import { loadHashVectors, vectorHasher } from '../../scripts/lab/kubelet/hashes.ts';
import { oracleWorkloadPlan, planVectors, UNSERVABLE_VECTORS } from '../../scripts/lab/workloads-oracle.ts';
import { defaultPodSpec } from '../../scripts/lab/apiserver/admission.ts';
import type { JsonObject } from '../../scripts/lab/apiserver/json.ts';
import { SELECTOR_POD } from '../../scripts/lab/workloads.ts';

const vectors = loadHashVectors();
const oracle = vectorHasher(vectors);

describe('the oracle workloads: pods made only of golden vectors', () => {
  const plan = oracleWorkloadPlan(['worker-1', 'worker-2', 'worker-3'], 'full');

  it('uses every servable vector, and each container as the apiserver serves it is its vector', () => {
    const used = new Set(plan.vectorOf.values());
    expect([...used].sort()).toEqual(vectors.map((v) => v.id).filter((id) => !(UNSERVABLE_VECTORS as readonly string[]).includes(id)).sort());
    for (const p of plan.pods) {
      const spec = JSON.parse(JSON.stringify(p.spec)) as JsonObject;
      defaultPodSpec(spec);
      for (const c of [...((spec.initContainers ?? []) as JsonObject[]), ...(spec.containers as JsonObject[])]) {
        for (const v of ['v1.10.13', 'v1.17.17']) expect(() => oracle.hash(parseJson(JSON.stringify(c)), v, 'apiserver')).not.toThrow();
      }
    }
  });

  it('has init containers, probes, a static pod, pods with and without hostNetwork, and the nodeSelector pod', () => {
    expect(plan.pods.some((p) => (p.spec?.initContainers ?? []).length > 0)).toBe(true);
    expect(plan.pods.some((p) => p.spec?.containers.some((c) => c.livenessProbe && c.readinessProbe))).toBe(true);
    expect(plan.pods.some((p) => p.spec?.hostNetwork === true)).toBe(true);
    expect(plan.pods.some((p) => !p.spec?.hostNetwork)).toBe(true);
    expect(plan.staticPod).toMatchObject({ kind: 'Pod', metadata: { name: 'node-probe' } });
    expect(plan.pods.find((p) => p.metadata?.name === SELECTOR_POD.name)?.spec?.nodeSelector).toBeDefined();
  });

  it('puts the host port 53/UDP of "ports" at most once per node', () => {
    const nodes = plan.pods.filter((p) => p.spec?.containers.some((c) => c.ports?.some((x) => x.hostPort === 53))).map((p) => p.spec?.nodeName);
    expect(new Set(nodes).size).toBe(nodes.length);
  });

  it('refuses a container the apiserver would serve changed from its vector, before anything starts', () => {
    const bad = { ...plan, pods: [{ ...plan.pods[0]!, spec: { ...plan.pods[0]!.spec!, containers: [JSON.parse(vectors.find((v) => v.id === 'no-defaults')!.container.raw)] } }] };
    expect(() => planVectors(bad, vectors)).toThrow(/served this container changed|serve this container changed/);
    const badStatic = { ...plan, pods: [], staticPod: { spec: { containers: [JSON.parse(vectors.find((v) => v.id === 'empty-lists')!.container.raw)] } } };
    expect(() => planVectors(badStatic, vectors)).toThrow(/static pod/);
  });

  it('a small plan for tests still has the selector pod and an init container', () => {
    const small = oracleWorkloadPlan(['a', 'b'], 'small');
    expect(small.pods.length).toBeLessThan(plan.pods.length);
    expect(small.pods.some((p) => p.metadata?.name === SELECTOR_POD.name)).toBe(true);
    expect(small.pods.some((p) => (p.spec?.initContainers ?? []).length > 0)).toBe(true);
  });
});
