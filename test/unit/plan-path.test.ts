import { describe, expect, it } from 'vitest';
import { planVersions, releasesByMinor, type ClusterVersions } from '../../coordinator/plan/path.ts';
import { checklistFor } from '../../coordinator/plan/checklist.ts';
import { predictHopRestarts } from '../../coordinator/plan/restarts.ts';
import { parseJson } from '../../lib/knowledge/hash/index.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const releases = ['v1.11.10', 'v1.12.10', 'v1.13.12', 'v1.14.10', 'v1.15.12', 'v1.16.15', 'v1.17.17', 'v1.13.1'];
const cluster = (api: string | string[], kubelets: Record<string, string>): ClusterVersions => ({
  apiservers: Array.isArray(api) ? api : [api],
  nodes: Object.entries(kubelets).map(([name, kubelet]) => ({ name, kubelet })),
});
const hopsOf = (p: ReturnType<typeof planVersions>, kind: 'every-step' | 'fewest-restarts') =>
  p.plans[kind].steps.flatMap((s) => s.kubelets.map((h) => `${h.from}->${h.to}:${h.nodes.join(',')}`));

describe('version path and kubelet plans', () => {
  it('1.10 -> 1.17: seven control-plane steps; every-step restarts each kubelet seven times, fewest-restarts four', () => {
    const p = planVersions(cluster('v1.10.13', { w1: 'v1.10.13', w2: 'v1.10.13' }), 'v1.17.17', releases);
    expect(p.controlPlanePath).toEqual(['v1.11.10', 'v1.12.10', 'v1.13.12', 'v1.14.10', 'v1.15.12', 'v1.16.15', 'v1.17.17']);
    expect(p.plans['every-step'].kubeletRestarts).toBe(14);
    expect(hopsOf(p, 'fewest-restarts')).toEqual(['v1.10.13->v1.12.10:w1,w2', 'v1.12.10->v1.14.10:w1,w2', 'v1.14.10->v1.16.15:w1,w2', 'v1.16.15->v1.17.17:w1,w2']);
    expect(p.plans['fewest-restarts'].kubeletRestarts).toBe(8);
    // the fewest-restarts plan moves a kubelet at the step whose successor would exceed the lag of two
    const at = p.plans['fewest-restarts'].steps.map((s) => `${s.controlPlane?.to}:${s.kubelets.length}`);
    expect(at).toEqual(['v1.11.10:0', 'v1.12.10:1', 'v1.13.12:0', 'v1.14.10:1', 'v1.15.12:0', 'v1.16.15:1', 'v1.17.17:1']);
  });

  it('keeps each kubelet within the policy at every point of both plans', () => {
    const p = planVersions(cluster('v1.12.10', { a: 'v1.10.13', b: 'v1.11.10', c: 'v1.12.10' }), 'v1.17.17', releases);
    for (const kind of ['every-step', 'fewest-restarts'] as const) {
      const at = new Map([['a', 10], ['b', 11], ['c', 12]]);
      let cp = 12;
      for (const s of p.plans[kind].steps) {
        if (s.controlPlane) cp = Number(s.controlPlane.to.split('.')[1]);
        for (const [, m] of at) expect(cp - m).toBeLessThanOrEqual(2);
        for (const h of s.kubelets) for (const n of h.nodes) at.set(n, Number(h.to.split('.')[1]));
        for (const [, m] of at) expect(m).toBeLessThanOrEqual(cp);
      }
      expect([...at.values()]).toEqual([17, 17, 17]);
    }
    // a kubelet two behind must move before the control plane can take its first step
    expect(hopsOf(p, 'fewest-restarts')[0]).toBe('v1.10.13->v1.12.10:a');
  });

  it('from 1.25 on a kubelet may trail by three minors', () => {
    const p = planVersions(cluster('v1.25.0', { w: 'v1.25.0' }), 'v1.29.0', ['v1.26.1', 'v1.27.1', 'v1.28.1']);
    expect(hopsOf(p, 'fewest-restarts')).toEqual(['v1.25.0->v1.28.1:w', 'v1.28.1->v1.29.0:w']);
  });

  it('a control plane already at the target upgrades the kubelets only', () => {
    const p = planVersions(cluster('v1.12.10', { w: 'v1.11.10' }), 'v1.12.10', releases);
    expect(p.controlPlanePath).toEqual([]);
    expect(hopsOf(p, 'every-step')).toEqual(['v1.11.10->v1.12.10:w']);
    expect(hopsOf(p, 'fewest-restarts')).toEqual(['v1.11.10->v1.12.10:w']);
  });

  it('every-step brings lagging kubelets up one minor at a time; fewest-restarts in one hop', () => {
    const p = planVersions(cluster('v1.12.10', { w: 'v1.10.13', x: 'v1.12.10' }), 'v1.12.10', releases);
    expect(hopsOf(p, 'every-step')).toEqual(['v1.10.13->v1.11.10:w', 'v1.11.10->v1.12.10:w']);
    expect(p.plans['fewest-restarts'].steps.flatMap((s) => s.kubelets)).toEqual([{ from: 'v1.10.13', to: 'v1.12.10', nodes: ['w'], minors: 2 }]);
  });

  it('names minors it has no release for instead of inventing a patch', () => {
    const p = planVersions(cluster('v1.10.13', {}), 'v1.13.12', ['v1.11.10']);
    expect(p.controlPlanePath).toEqual(['v1.11.10', 'v1.12.x', 'v1.13.12']);
  });

  it.each([
    ['a kubelet newer than the apiserver', cluster('v1.12.10', { w: 'v1.13.12' }), 'v1.13.12', 'kubelet-not-newer-than-apiserver'],
    ['a kubelet three minors behind (before 1.25)', cluster('v1.13.12', { w: 'v1.10.13' }), 'v1.14.10', 'kubelet-max-lag'],
    ['HA apiservers two minors apart', cluster(['v1.12.10', 'v1.14.10'], {}), 'v1.15.12', 'apiserver-ha-one-minor'],
  ])('refuses %s with the rule it breaks', (_name, c, target, rule) => {
    expect(() => planVersions(c, target, releases)).toThrow(expect.objectContaining({ code: 'SKEW_POLICY', details: expect.objectContaining({ rule }) }));
  });

  it.each([
    ['a downgrade', 'v1.11.10', 'DOWNGRADE_REFUSED'],
    ['a malformed version', 'v1.x', 'VERSION_INVALID'],
    ['a placeholder build', 'v0.0.0-master+$Format:%h$', 'VERSION_PLACEHOLDER'],
  ])('refuses %s', (_name, target, code) => {
    expect(() => planVersions(cluster('v1.12.10', { w: 'v1.12.10' }), target, releases)).toThrow(expect.objectContaining({ code }));
  });

  it('picks the newest patch per minor from the releases', () => {
    expect(releasesByMinor(releases).get('1.13')).toBe('v1.13.12');
  });
});

describe('per-step checklist', () => {
  const p = planVersions(cluster('v1.10.13', { w: 'v1.10.13' }), 'v1.17.17', releases);
  const step = (to: string) => p.plans['every-step'].steps.find((s) => s.controlPlane?.to === to)!;

  it('1.16 stops serving the old workload APIs, with the --runtime-config that keeps them and the PRs', () => {
    const apis = checklistFor(step('v1.16.15')).filter((i) => i.kind === 'api-removed');
    expect(apis.map((i) => i.what)).toContain('kube-apiserver 1.16 no longer serves deployments under extensions/v1beta1');
    expect(apis.find((i) => i.what.includes('apps/v1beta1'))?.action).toContain('--runtime-config=apps/v1beta1=true');
    expect(apis.every((i) => i.source.includes('#70672') && i.source.includes('#85903'))).toBe(true);
    expect(checklistFor(step('v1.15.12')).filter((i) => i.kind === 'api-removed')).toEqual([]);
  });

  it('1.13 turns TaintBasedEvictions on; the kubelet hop to 1.16 changes the hash algorithm and drops --containerized', () => {
    expect(checklistFor(step('v1.13.12')).some((i) => i.kind === 'feature-gate' && i.what.includes('TaintBasedEvictions'))).toBe(true);
    const s16 = checklistFor(step('v1.16.15'));
    expect(s16.find((i) => i.kind === 'hash-algorithm')?.source).toContain('#57741');
    expect(s16.find((i) => i.kind === 'kubelet-flag-removed')?.what).toContain('--containerized');
    expect(checklistFor(step('v1.15.12')).some((i) => i.kind === 'hash-algorithm')).toBe(false);
  });
});

describe('restarts predicted per hop', () => {
  it('counts, per hop and only on its nodes, the containers whose hash changes', () => {
    const text = readFileSync(join(import.meta.dirname, '../../examples/podlist.json'), 'utf8');
    const list = parseJson(text, 'podlist');
    const nodes = [...new Set((JSON.parse(text) as { items: { spec: { nodeName?: string } }[] }).items.map((i) => i.spec.nodeName).filter((n): n is string => !!n))];
    const [all] = predictHopRestarts(list, [{ from: 'v1.15.12', to: 'v1.16.15', nodes, minors: 1 }]);
    // the 1.16 algorithm change: the 8 regular containers (postgres-0's init container is never hash-compared)
    expect(all).toMatchObject({ containers: 8, wouldRestart: 8 });
    expect(all!.byNode).toEqual({ 'node-1': { containers: 4, wouldRestart: 4 }, 'node-2': { containers: 4, wouldRestart: 4 } });
    const [none] = predictHopRestarts(list, [{ from: 'v1.15.12', to: 'v1.16.15', nodes: ['no-such-node'], minors: 1 }]);
    expect(none).toMatchObject({ containers: 0, wouldRestart: 0 });
    const [p1415] = predictHopRestarts(list, [{ from: 'v1.14.10', to: 'v1.15.12', nodes, minors: 1 }]);
    expect(p1415!.names.map((n) => n.split('/')[2]).sort()).toEqual(['kube-proxy', 'postgres']);
  });
});
