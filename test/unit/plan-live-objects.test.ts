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

describe('preflight --to findings', () => {
  it('one warning per object last applied through a version the path stops serving, none before 1.16, a warning when the cluster cannot list', async () => {
    const { planVersions } = await import('../../coordinator/plan/path.ts');
    const { removedApiFindings } = await import('../../coordinator/preflight/plan-findings.ts');
    const nodes = [{ name: 'w1', kubelet: 'v1.15.12', kubeProxy: '' }];
    const list = async (gv: string, r: string) => (gv === 'extensions/v1beta1' && r === 'daemonsets' ? [{ namespace: 'kube-system', name: 'fluentd', appliedAs: 'extensions/v1beta1' }] : undefined);
    const found = await removedApiFindings(planVersions({ apiservers: ['v1.15.12'], nodes }, 'v1.16.15'), list);
    expect(found).toEqual([expect.objectContaining({ severity: 'warning', check: 'removed-api-objects', object: 'daemonsets kube-system/fluentd' })]);
    expect(found[0]!.fix).toMatch(/apps\/v1.*--runtime-config=extensions\/v1beta1\/daemonsets=true \(impossible from 1\.18\)/);
    expect(await removedApiFindings(planVersions({ apiservers: ['v1.14.10'], nodes: [{ ...nodes[0]!, kubelet: 'v1.14.10' }] }, 'v1.15.12'), list)).toEqual([]);
    expect((await removedApiFindings(planVersions({ apiservers: ['v1.15.12'], nodes }, 'v1.16.15'), undefined)).map((f) => f.severity)).toEqual(['warning']);
  });
});

describe('preflight --to: restarts an unpatched kubelet would cause', () => {
  it('reports the hop 1.15 -> 1.16, where the hash algorithm changes for every container, and nothing for a hop that keeps the hash', async () => {
    const { planVersions } = await import('../../coordinator/plan/path.ts');
    const { predictedRestartFindings } = await import('../../coordinator/preflight/plan-findings.ts');
    const { parseJson } = await import('../../lib/knowledge/hash/index.ts');
    const pods = parseJson(JSON.stringify({ kind: 'PodList', items: [{ metadata: { namespace: 'default', name: 'web' }, spec: { nodeName: 'w1', containers: [{ name: 'c', image: 'nginx:1.15', terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File', imagePullPolicy: 'IfNotPresent' }] } }] }), 'pods');
    const at = (v: string) => planVersions({ apiservers: [v], nodes: [{ name: 'w1', kubelet: v }] }, v === 'v1.15.12' ? 'v1.16.15' : 'v1.12.10');
    const found = predictedRestartFindings(at('v1.15.12'), pods);
    expect(found).toEqual([expect.objectContaining({ severity: 'info', check: 'predicted-restarts', object: 'kubelets v1.15.12 -> v1.16.15' })]);
    expect(found[0]!.why).toMatch(/would restart 1 of 1 containers/);
    expect(predictedRestartFindings(at('v1.11.10'), pods)).toEqual([]);
  });
});
