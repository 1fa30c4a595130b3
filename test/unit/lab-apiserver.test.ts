/** Pure parts of the lab apiserver: selectors, patches, admission, version gating, tables. */
import { describe, expect, it } from 'vitest';
import { fieldsMatch, labelsMatch, parseFieldSelector, parseLabelSelector } from '../../scripts/lab/apiserver/selectors.ts';
import { jsonPatch, mergePatch, patchTypeOf, strategicMerge } from '../../scripts/lab/apiserver/patch.ts';
import { applyDefaultTolerationSeconds, defaultPod } from '../../scripts/lab/apiserver/admission.ts';
import { RESOURCES, parseGitVersion, servedGroups, servedResources } from '../../scripts/lab/apiserver/resources.ts';
import { humanDuration, toTable, wantsTable } from '../../scripts/lab/apiserver/table.ts';
import { podQosClass } from '../../scripts/lab/apiserver/server.ts';
import { ApiError } from '../../scripts/lab/apiserver/status.ts';
import type { JsonObject } from '../../scripts/lab/apiserver/json.ts';

const pods = RESOURCES.find((r) => r.plural === 'pods' && r.group === '');
if (!pods) throw new Error('pods resource missing');

describe('label selectors', () => {
  const labels = { app: 'web', tier: 'front', env: '' };
  it.each([
    ['app=web', true], ['app==web', true], ['app!=web', false], ['app=db', false],
    ['app in (db, web)', true], ['app notin (web)', false], ['missing notin (x)', true], ['missing in (x)', false],
    ['tier', true], ['!tier', false], ['!missing', true], ['env=', true], ['app=web,tier=back', false],
    ['app in (web),tier,!missing', true], ['', true],
  ])('%s -> %s', (sel, expected) => {
    expect(labelsMatch(parseLabelSelector(sel), labels)).toBe(expected);
  });

  it('rejects malformed selectors with 400', () => {
    expect(() => parseLabelSelector('app in web')).toThrow(ApiError);
    expect(() => parseLabelSelector('=x')).toThrow(ApiError);
  });
});

describe('field selectors', () => {
  const pod: JsonObject = { metadata: { name: 'p', namespace: 'ns' }, spec: { nodeName: 'n1' }, status: { phase: 'Running' } };
  it('matches supported fields, absent fields as ""', () => {
    expect(fieldsMatch(parseFieldSelector('spec.nodeName=n1,status.phase!=Pending', pods), pod)).toBe(true);
    expect(fieldsMatch(parseFieldSelector('spec.nodeName=', pods), pod)).toBe(false);
    expect(fieldsMatch(parseFieldSelector('spec.nodeName=', pods), { metadata: { name: 'q' } })).toBe(true);
    expect(fieldsMatch(parseFieldSelector('metadata.name==p,metadata.namespace=ns', pods), pod)).toBe(true);
  });
  it('rejects unknown field labels', () => {
    expect(() => parseFieldSelector('spec.hostNetwork=true', pods)).toThrow(/not a known field selector/);
  });
});

describe('patches', () => {
  it('merge patch (RFC 7386): nested merge, null deletes, arrays replace', () => {
    expect(mergePatch({ a: { b: 1, c: 2 }, l: [1, 2] }, { a: { b: null, d: 3 }, l: [3] })).toEqual({ a: { c: 2, d: 3 }, l: [3] });
  });

  it('JSON patch (RFC 6902): add/remove/replace/move/copy/test and escaped pointers', () => {
    const doc = { metadata: { labels: { 'a/b': '1' } }, list: [1, 2] };
    const out = jsonPatch(doc, [
      { op: 'add', path: '/list/-', value: 3 },
      { op: 'add', path: '/list/0', value: 0 },
      { op: 'remove', path: '/metadata/labels/a~1b' },
      { op: 'add', path: '/metadata/labels/x', value: 'y' },
      { op: 'copy', from: '/metadata/labels/x', path: '/metadata/labels/z' },
      { op: 'move', from: '/metadata/labels/x', path: '/metadata/labels/w' },
      { op: 'replace', path: '/list/1', value: 10 },
      { op: 'test', path: '/list', value: [0, 10, 2, 3] },
    ]);
    expect(out).toEqual({ metadata: { labels: { z: 'y', w: 'y' } }, list: [0, 10, 2, 3] });
    expect(doc.list).toEqual([1, 2]);
    expect(() => jsonPatch(doc, [{ op: 'replace', path: '/nope', value: 1 }])).toThrow(ApiError);
    expect(() => jsonPatch(doc, [{ op: 'test', path: '/list', value: [] }])).toThrow(/test failed/);
  });

  it('strategic merge: taints by key, conditions by type, tolerations replace, directives', () => {
    const node = {
      metadata: { labels: { a: '1', b: '2' } },
      spec: { taints: [{ key: 'x', effect: 'NoSchedule' }, { key: 'y', effect: 'NoExecute' }], tolerations: [{ key: 't' }] },
      status: { conditions: [{ type: 'Ready', status: 'True' }, { type: 'MemoryPressure', status: 'False' }] },
    };
    const out = strategicMerge(node, {
      metadata: { labels: { a: null, c: '3' } },
      spec: { taints: [{ key: 'y', $patch: 'delete' }, { key: 'z', effect: 'NoSchedule' }], tolerations: [{ key: 'u' }], '$setElementOrder/taints': [{ key: 'x' }] },
      status: { conditions: [{ type: 'Ready', status: 'False', reason: 'KubeletNotReady' }] },
    });
    expect(out).toEqual({
      metadata: { labels: { b: '2', c: '3' } },
      spec: { taints: [{ key: 'x', effect: 'NoSchedule' }, { key: 'z', effect: 'NoSchedule' }], tolerations: [{ key: 'u' }] },
      status: { conditions: [{ type: 'Ready', status: 'False', reason: 'KubeletNotReady' }, { type: 'MemoryPressure', status: 'False' }] },
    });
    expect(strategicMerge({ spec: { taints: [{ key: 'x' }] } }, { spec: { taints: [{ $patch: 'replace' }, { key: 'n' }] } })).toEqual({ spec: { taints: [{ key: 'n' }] } });
    expect(strategicMerge({ m: { a: 1, b: 2 } }, { m: { $patch: 'replace', c: 3 } })).toEqual({ m: { c: 3 } });
    expect(strategicMerge({ f: ['a', 'b', 'c'] }, { '$deleteFromPrimitiveList/f': ['b'] })).toEqual({ f: ['a', 'c'] });
  });

  it('maps content types', () => {
    expect(patchTypeOf('application/strategic-merge-patch+json; charset=utf-8')).toBe('strategic');
    expect(patchTypeOf('application/merge-patch+json')).toBe('merge');
    expect(patchTypeOf('application/json-patch+json')).toBe('json');
    expect(patchTypeOf('application/json')).toBeUndefined();
  });
});

describe('DefaultTolerationSeconds', () => {
  const keys = (pod: JsonObject): unknown => (pod.spec as JsonObject).tolerations;
  it('adds both tolerations to a pod without any', () => {
    const pod: JsonObject = { spec: {} };
    expect(applyDefaultTolerationSeconds(pod)).toBe(true);
    expect(keys(pod)).toEqual([
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    ]);
    expect(applyDefaultTolerationSeconds(pod)).toBe(false);
  });
  it('keeps an existing not-ready toleration (any seconds, or empty effect) and adds only unreachable', () => {
    const pod: JsonObject = { spec: { tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists' }] } };
    applyDefaultTolerationSeconds(pod);
    expect((keys(pod) as JsonObject[]).map((t) => t.key)).toEqual(['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']);
  });
  it('an empty key with NoExecute tolerates both; a NoSchedule one tolerates neither', () => {
    const wildcard: JsonObject = { spec: { tolerations: [{ operator: 'Exists', effect: 'NoExecute' }] } };
    expect(applyDefaultTolerationSeconds(wildcard)).toBe(false);
    const noSchedule: JsonObject = { spec: { tolerations: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoSchedule' }] } };
    applyDefaultTolerationSeconds(noSchedule);
    expect(keys(noSchedule)).toHaveLength(3);
  });
});

describe('pod defaults and QoS', () => {
  it('defaults container fields as the apiserver does', () => {
    const pod: JsonObject = { spec: { containers: [{ name: 'a', image: 'busybox' }, { name: 'b', image: 'r.io/x:1.2', ports: [{ containerPort: 80 }] }] } };
    defaultPod(pod);
    const [a, b] = (pod.spec as { containers: JsonObject[] }).containers;
    expect(a).toMatchObject({ imagePullPolicy: 'Always', terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File' });
    expect(b).toMatchObject({ imagePullPolicy: 'IfNotPresent', ports: [{ containerPort: 80, protocol: 'TCP' }] });
    expect(pod.spec).toMatchObject({ restartPolicy: 'Always', dnsPolicy: 'ClusterFirst', schedulerName: 'default-scheduler', terminationGracePeriodSeconds: 30 });
    expect(pod.status).toEqual({ phase: 'Pending' });
  });
  it('computes the QoS class', () => {
    const c = (resources: JsonObject): JsonObject => ({ spec: { containers: [{ name: 'x', resources }] } });
    expect(podQosClass(c({}))).toBe('BestEffort');
    expect(podQosClass(c({ limits: { cpu: '1', memory: '1Gi' } }))).toBe('Guaranteed');
    expect(podQosClass(c({ limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '500m' } }))).toBe('Burstable');
    expect(podQosClass(c({ requests: { cpu: '1' } }))).toBe('Burstable');
  });
});

describe('API groups per version', () => {
  const gvs = (minor: number): string[] => servedGroups(minor).flatMap((g) => g.versions.map((v) => `${g.name}/${v}`)).sort();
  it('follows the changelogs', () => {
    expect(gvs(10)).toEqual(['apps/v1', 'extensions/v1beta1']);
    expect(gvs(11)).toEqual(['apps/v1', 'extensions/v1beta1']);
    expect(gvs(12)).toEqual(['apps/v1', 'coordination.k8s.io/v1beta1', 'extensions/v1beta1']);
    expect(gvs(15)).toEqual(['apps/v1', 'coordination.k8s.io/v1', 'coordination.k8s.io/v1beta1', 'extensions/v1beta1']);
    expect(gvs(16)).toEqual(['apps/v1', 'coordination.k8s.io/v1', 'coordination.k8s.io/v1beta1']);
    expect(servedGroups(14).find((g) => g.name === 'coordination.k8s.io')?.preferred).toBe('v1');
    expect(servedResources(17).filter((r) => r.group === '').map((r) => r.plural)).toEqual(['namespaces', 'nodes', 'pods', 'events']);
  });
  it('parses gitVersions', () => {
    expect(parseGitVersion('v1.17.17')).toEqual({ gitVersion: 'v1.17.17', major: 1, minor: 17 });
    expect(() => parseGitVersion('1.17')).toThrow(/not a Kubernetes gitVersion/);
  });
});

describe('server-side tables', () => {
  it('negotiates the Table version from Accept', () => {
    expect(wantsTable('application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json')).toBe('v1');
    expect(wantsTable('application/json;as=Table;v=v1beta1;g=meta.k8s.io')).toBe('v1beta1');
    expect(wantsTable('application/json')).toBeUndefined();
  });
  it('prints pods like the apiserver', () => {
    const pod: JsonObject = {
      metadata: { name: 'p', namespace: 'd', creationTimestamp: '2026-01-01T00:00:00Z' },
      spec: { nodeName: 'n', containers: [{ name: 'a' }, { name: 'b' }] },
      status: { phase: 'Running', containerStatuses: [{ ready: true, restartCount: 2 }, { ready: false, restartCount: 1, state: { waiting: { reason: 'CrashLoopBackOff' } } }] },
    };
    const t = toTable('v1', pods, [pod], '5', new Date('2026-01-01T00:05:00Z'));
    expect((t.rows as Array<{ cells: unknown[] }>)[0]?.cells).toEqual(['p', '1/2', 'CrashLoopBackOff', 3, '5m', '<none>', 'n']);
    expect(humanDuration(90_000)).toBe('90s');
    expect(humanDuration(3 * 86_400_000)).toBe('3d');
  });
});

describe('apiserver process config', () => {
  it('parses a config file and rejects incomplete ones', async () => {
    const { parseFileConfig } = await import('../../scripts/lab/apiserver/main.ts');
    const cfg = parseFileConfig(JSON.stringify({ gitVersion: 'v1.10.13', etcd: 'http://127.0.0.1:1', cert: 'c', key: 'k', clientCa: 'ca', port: 6443, tokens: { t: { user: 'u', groups: ['g'] } }, defaultTolerationSeconds: true }));
    expect(cfg).toMatchObject({ gitVersion: 'v1.10.13', port: 6443, tokens: { t: { user: 'u', groups: ['g'] } }, defaultTolerationSeconds: true });
    expect(() => parseFileConfig('{"gitVersion":"v1.10.13"}')).toThrow(/needs a string "etcd"/);
    expect(() => parseFileConfig('nope')).toThrow(/not JSON/);
  });
});
