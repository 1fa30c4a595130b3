import { describe, expect, it } from 'vitest';
import { countPods, fitErrorMessage, isSchedulable, schedulePod, schedulingOrder, unfitReason } from '../../scripts/lab/scheduler/decide.ts';
import { nodeView, podView, toleratesTaint, type NodeView, type PodView } from '../../scripts/lab/scheduler/model.ts';
import { parseFlags, parseGoDuration, parseKubeVersion } from '../../scripts/lab/scheduler/flags.ts';
import { parseSchedulerArgs } from '../../scripts/lab/scheduler/config.ts';
import { componentLauncherScript } from '../../scripts/lab/scheduler/launcher.ts';

function node(name: string, o: Partial<NodeView> = {}, ready: 'True' | 'False' | 'Unknown' = 'True'): NodeView {
  return { name, uid: name, resourceVersion: '1', creationMs: 0, labels: {}, unschedulable: false, taints: [], conditions: [{ type: 'Ready', status: ready }], ...o };
}

function pod(name: string, o: Partial<PodView> = {}): PodView {
  return { namespace: 'default', name, uid: name, nodeName: '', schedulerName: 'default-scheduler', nodeSelector: {}, tolerations: [], phase: 'Pending', creationMs: 0, deleting: false, ownerKinds: [], conditions: {}, ...o };
}

describe('which pods the scheduler owns', () => {
  it('unassigned, live pods for default-scheduler or with no schedulerName', () => {
    expect(isSchedulable(pod('a'))).toBe(true);
    expect(isSchedulable(pod('a', { schedulerName: '' }))).toBe(true);
    expect(isSchedulable(pod('a', { schedulerName: 'other' }))).toBe(false);
    expect(isSchedulable(pod('a', { nodeName: 'n1' }))).toBe(false);
    expect(isSchedulable(pod('a', { phase: 'Succeeded' }))).toBe(false);
    expect(isSchedulable(pod('a', { deleting: true }))).toBe(false);
  });
});

describe('filters', () => {
  it('Ready, schedulable, nodeSelector, NoSchedule/NoExecute taints', () => {
    expect(unfitReason(pod('p'), node('n', {}, 'Unknown'))).toBe('node(s) were not ready');
    expect(unfitReason(pod('p'), node('n', { unschedulable: true }))).toBe('node(s) were unschedulable');
    expect(unfitReason(pod('p', { nodeSelector: { disk: 'ssd' } }), node('n', { labels: { disk: 'hdd' } }))).toBe("node(s) didn't match node selector");
    expect(unfitReason(pod('p', { nodeSelector: { disk: 'ssd' } }), node('n', { labels: { disk: 'ssd', x: 'y' } }))).toBeUndefined();
    const tainted = node('n', { taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] });
    expect(unfitReason(pod('p'), tainted)).toBe("node(s) had taints that the pod didn't tolerate");
    expect(unfitReason(pod('p', { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoSchedule' }] }), tainted)).toBeUndefined();
    expect(unfitReason(pod('p', { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'web' }] }), tainted)).toBeDefined();
    expect(unfitReason(pod('p'), node('n', { taints: [{ key: 'soft', effect: 'PreferNoSchedule' }] }))).toBeUndefined();
    expect(unfitReason(pod('p'), node('n', { taints: [{ key: 'gone', effect: 'NoExecute' }] }))).toBeDefined();
  });

  it('toleration matching: Exists with no key matches all; effect must match when given', () => {
    expect(toleratesTaint({ operator: 'Exists' }, { key: 'k', effect: 'NoExecute' })).toBe(true);
    expect(toleratesTaint({ key: 'k', operator: 'Exists', effect: 'NoSchedule' }, { key: 'k', effect: 'NoExecute' })).toBe(false);
    expect(toleratesTaint({ key: 'k' }, { key: 'k', effect: 'NoExecute' })).toBe(true); // Equal, empty value
    expect(toleratesTaint({ key: 'k', value: 'v' }, { key: 'k', value: 'w', effect: 'NoExecute' })).toBe(false);
    expect(toleratesTaint({ value: 'v' }, { key: 'k', value: 'v', effect: 'NoExecute' })).toBe(false);
  });
});

describe('choice', () => {
  const nodes = [node('n2'), node('n1'), node('n3', { labels: { disk: 'ssd' } })];
  it('fewest pods, then name', () => {
    expect(schedulePod(pod('p'), nodes, new Map())).toEqual({ kind: 'bind', node: 'n1' });
    expect(schedulePod(pod('p'), nodes, new Map([['n1', 2], ['n2', 1], ['n3', 1]]))).toEqual({ kind: 'bind', node: 'n2' });
  });
  it('honours nodeSelector', () => {
    expect(schedulePod(pod('p', { nodeSelector: { disk: 'ssd' } }), nodes, new Map([['n3', 9]]))).toEqual({ kind: 'bind', node: 'n3' });
  });
  it('explains an unschedulable pod in the real FitError format', () => {
    const all = [...nodes, node('n4', {}, 'False'), node('n5', { taints: [{ key: 'a', effect: 'NoSchedule' }], labels: { disk: 'ssd' } })];
    expect(schedulePod(pod('p', { nodeSelector: { disk: 'nvme' } }), all, new Map())).toEqual({
      kind: 'unschedulable',
      message: "0/5 nodes are available: 1 node(s) were not ready, 4 node(s) didn't match node selector.",
    });
    expect(schedulePod(pod('p'), [], new Map())).toEqual({ kind: 'unschedulable', message: '0/0 nodes are available.' });
    expect(fitErrorMessage(3, new Map([["node(s) had taints that the pod didn't tolerate", 2], ["node(s) didn't match node selector", 1]])))
      .toBe("0/3 nodes are available: 1 node(s) didn't match node selector, 2 node(s) had taints that the pod didn't tolerate.");
  });
  it('counts live pods per node and orders the queue oldest first', () => {
    const counts = countPods([pod('a', { nodeName: 'n1' }), pod('b', { nodeName: 'n1', phase: 'Failed' }), pod('c', { nodeName: 'n2' }), pod('d')]);
    expect([...counts.entries()].sort()).toEqual([['n1', 1], ['n2', 1]]);
    expect(schedulingOrder([pod('b', { creationMs: 2 }), pod('a', { creationMs: 2 }), pod('z', { creationMs: 1 })]).map((p) => p.name)).toEqual(['z', 'a', 'b']);
  });
});

describe('client-node conversions', () => {
  it('nodeView and podView read the typed objects', () => {
    const n = nodeView({
      metadata: { name: 'n1', uid: 'u', resourceVersion: '7', labels: { a: 'b' }, creationTimestamp: new Date(1000) },
      spec: { unschedulable: true, taints: [{ key: 'k', effect: 'NoExecute', timeAdded: new Date(5000) }] },
      status: { conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: new Date(2000), lastTransitionTime: new Date(1500) }] },
    });
    expect(n).toMatchObject({ name: 'n1', resourceVersion: '7', creationMs: 1000, unschedulable: true, taints: [{ key: 'k', effect: 'NoExecute', timeAddedMs: 5000 }] });
    expect(n.conditions[0]).toMatchObject({ status: 'True', lastHeartbeatMs: 2000, lastTransitionMs: 1500 });
    const p = podView({
      metadata: { name: 'p', namespace: 'ns', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'd', uid: 'x' }] },
      spec: { containers: [], nodeSelector: { a: 'b' }, tolerations: [{ key: 'k', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }] },
      status: { phase: 'Running', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] },
    });
    expect(p).toMatchObject({ namespace: 'ns', nodeName: '', schedulerName: '', ownerKinds: ['DaemonSet'], tolerations: [{ key: 'k', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }] });
    expect(p.conditions.PodScheduled).toMatchObject({ status: 'False', reason: 'Unschedulable' });
  });
});

describe('flags', () => {
  it('Go durations', () => {
    expect(parseGoDuration('40s')).toBe(40_000);
    expect(parseGoDuration('5m0s')).toBe(300_000);
    expect(parseGoDuration('1h2m3.5s')).toBe(3_723_500);
    expect(parseGoDuration('500ms')).toBe(500);
    expect(parseGoDuration('0')).toBe(0);
    for (const bad of ['', '40', 's', '5x', '1m junk']) expect(() => parseGoDuration(bad)).toThrow(/invalid duration/);
  });
  it('pflag forms', () => {
    expect([...parseFlags(['--a=1', '--b', '2', '--c', '--d=x=y'], new Set()).entries()]).toEqual([['a', '1'], ['b', '2'], ['c', 'true'], ['d', 'x=y']]);
    expect([...parseFlags(['--leader-elect', 'x'].slice(0, 1), new Set(['leader-elect'])).entries()]).toEqual([['leader-elect', 'true']]);
    expect(() => parseFlags(['stray'])).toThrow(/unexpected argument/);
  });
  it('versions', () => {
    expect(parseKubeVersion('v1.13.12')).toEqual({ gitVersion: 'v1.13.12', major: 1, minor: 13 });
    expect(() => parseKubeVersion('1.13')).toThrow(/lab-kube-version/);
    expect(() => parseKubeVersion(undefined)).toThrow(/lab-kube-version/);
  });
  it('scheduler command line', () => {
    expect(parseSchedulerArgs(['--lab-kube-version=v1.10.13', '--kubeconfig', '/k', '--leader-elect=false', '--lab-resync-period=2s'])).toEqual({
      version: { gitVersion: 'v1.10.13', major: 1, minor: 10 }, kubeconfig: '/k', schedulerName: 'default-scheduler', resyncPeriodMs: 2000, logLevel: 'info', unknownFlags: [], healthz: { host: '0.0.0.0', port: 10251 },
    });
    expect(parseSchedulerArgs(['--lab-kube-version=v1.10.13', '--kubeconfig=/k', '--address=127.0.0.10']).healthz).toEqual({ host: '127.0.0.10', port: 10251 });
    expect(parseSchedulerArgs(['--lab-kube-version=v1.10.13', '--kubeconfig=/k', '--port=0']).healthz).toBeUndefined();
    expect(() => parseSchedulerArgs(['--lab-kube-version=v1.10.13', '--kubeconfig=/k', '--port=x'])).toThrow(/--port/);
    expect(() => parseSchedulerArgs(['--lab-kube-version=v1.10.13'])).toThrow(/--kubeconfig/);
    expect(parseSchedulerArgs(['--lab-kube-version=v1.10.13', '--kubeconfig=/k', '--bogus=1', '--v=2', '--profiling']).unknownFlags).toEqual(['bogus', 'profiling']);
  });
  it('the launcher runs main.ts with the version', () => {
    const s = componentLauncherScript({ component: 'scheduler', version: 'v1.12.10', nodeBinary: '/usr/bin/node', repoDir: '/repo' });
    expect(s).toContain('"/usr/bin/node" --import "/repo/node_modules/tsx/dist/esm/index.mjs" "/repo/scripts/lab/scheduler/main.ts" "--lab-kube-version=v1.12.10" "$@" &');
    expect(s).toContain("--version|--version=true) echo 'Kubernetes v1.12.10'; exit 0;;");
  });
});
