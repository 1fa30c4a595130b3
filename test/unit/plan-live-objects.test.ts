import { describe, expect, it } from 'vitest';
import { API_REMOVALS } from '../../lib/knowledge/apis/index.ts';
import { appliedApiVersion, findRemovedApiObjects, LAST_APPLIED, type LiveObject } from '../../coordinator/plan/live-objects.ts';
import { checklistFor } from '../../coordinator/plan/checklist.ts';
import type { PlanStep } from '../../coordinator/plan/path.ts';

const extDeployments = API_REMOVALS.filter((r) => r.groupVersion === 'extensions/v1beta1' && r.resources.includes('deployments'));
const appsV1beta1 = API_REMOVALS.filter((r) => r.groupVersion === 'apps/v1beta1');

describe('objects behind removed API versions', () => {
  it('reads the apiVersion of kubectl\'s last-applied annotation, and nothing from a broken one', () => {
    expect(appliedApiVersion({ [LAST_APPLIED]: '{"apiVersion":"extensions/v1beta1","kind":"Deployment"}' })).toBe('extensions/v1beta1');
    expect(appliedApiVersion({ [LAST_APPLIED]: '{not json' })).toBeUndefined();
    expect(appliedApiVersion({ [LAST_APPLIED]: '{"kind":"Deployment"}' })).toBeUndefined();
    expect(appliedApiVersion(undefined)).toBeUndefined();
  });

  it('counts every stored object and names those last applied through the removed version', async () => {
    const objects: LiveObject[] = [
      { namespace: 'b', name: 'two', appliedAs: 'extensions/v1beta1' },
      { namespace: 'a', name: 'one', appliedAs: 'extensions/v1beta1' },
      { namespace: 'a', name: 'new', appliedAs: 'apps/v1' },
      { namespace: 'a', name: 'created', appliedAs: undefined },
    ];
    const asked: string[] = [];
    const found = await findRemovedApiObjects(extDeployments, async (gv, r) => { asked.push(`${gv}/${r}`); return objects; });
    expect(asked).toEqual(['extensions/v1beta1/deployments']);
    expect(found).toEqual([{ groupVersion: 'extensions/v1beta1', resource: 'deployments', total: 4, appliedWithRemoved: ['a/one', 'b/two'], listedAs: 'extensions/v1beta1' }]);
  });

  it('lists through the replacement once the old version is not served, and reports a resource neither serves', async () => {
    const found = await findRemovedApiObjects(appsV1beta1, async (gv, r) => (gv === 'apps/v1' && r !== 'controllerrevisions' ? [{ namespace: 'x', name: r, appliedAs: 'apps/v1beta1' }] : undefined));
    expect(found.map((f) => [f.resource, f.listedAs, f.total, f.appliedWithRemoved])).toEqual([
      ['deployments', 'apps/v1', 1, ['x/deployments']],
      ['statefulsets', 'apps/v1', 1, ['x/statefulsets']],
      ['controllerrevisions', '', 0, []],
    ]);
  });
});

describe('the checklist names control-plane and kube-proxy flag changes from the flag table', () => {
  const step = (cp: [string, string] | undefined, kubelet: [string, string] | undefined): PlanStep => ({
    controlPlane: cp ? { from: cp[0], to: cp[1] } : undefined,
    kubelets: kubelet ? [{ from: kubelet[0], to: kubelet[1], minors: 1, nodes: ['w1'] }] : [],
  } as unknown as PlanStep);

  it('kube-apiserver 1.13 drops --etcd-quorum-read and refuses etcd2, with the changelog', () => {
    const items = checklistFor(step(['v1.12.10', 'v1.13.12'], undefined)).filter((i) => i.kind === 'component-flag');
    expect(items.map((i) => i.what)).toEqual(expect.arrayContaining([expect.stringMatching(/^kube-apiserver 1\.13 no longer accepts --etcd-quorum-read/), expect.stringMatching(/^kube-apiserver 1\.13 no longer accepts --storage-backend=etcd2/)]));
    expect(items.find((i) => i.what.includes('--storage-backend'))!.action).toMatch(/refuses the step/);
    expect(items.every((i) => /CHANGELOG-1\.13\.md/.test(i.source))).toBe(true);
    expect(checklistFor(step(['v1.11.10', 'v1.12.10'], undefined)).filter((i) => i.kind === 'component-flag' && i.what.startsWith('kube-apiserver'))).toEqual([]);
  });

  it('kube-proxy\'s --resource-container goes with the kubelet hop that reaches 1.16, also across two minors', () => {
    const hop = checklistFor(step(undefined, ['v1.14.10', 'v1.16.15'])).filter((i) => i.kind === 'component-flag');
    expect(hop.map((i) => i.what)).toEqual([expect.stringMatching(/^kube-proxy 1\.16 no longer accepts --resource-container/)]);
    expect(hop[0]!.source).toMatch(/#78294/);
    expect(checklistFor(step(undefined, ['v1.14.10', 'v1.15.12'])).some((i) => i.kind === 'component-flag')).toBe(false);
  });
});
