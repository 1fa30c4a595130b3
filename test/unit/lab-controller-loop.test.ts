/** The thin loops over a recording fake ControlPlaneApi: what they send for each decision. */
import { FakeClock } from '../../lib/clock.ts';
import { describe, expect, it } from 'vitest';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { silentLogger } from '../../lib/logger.ts';
import { KubeApiError, type PodWatchEvent, type WatchHandle } from '../../lib/kube/index.ts';
import { NodeLifecycleController } from '../../scripts/lab/controller-manager/controller.ts';
import { DEFAULT_LIFECYCLE_CONFIG } from '../../scripts/lab/controller-manager/lifecycle.ts';
import { LabScheduler } from '../../scripts/lab/scheduler/scheduler.ts';
import type { ControlPlaneApi, EventSpec } from '../../scripts/lab/scheduler/kube-api.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');

class FakeApi implements ControlPlaneApi {
  nodes: V1Node[] = [];
  pods: V1Pod[] = [];
  readonly calls: Array<{ op: string; args: unknown[] }> = [];
  failDelete: KubeApiError | undefined;
  listNodes = async (): Promise<V1Node[]> => this.nodes;
  listPods = async (): Promise<V1Pod[]> => this.pods;
  bindPod = async (...args: unknown[]): Promise<void> => void this.calls.push({ op: 'bind', args });
  patchPodStatus = async (...args: unknown[]): Promise<void> => void this.calls.push({ op: 'patchPodStatus', args });
  patchNodeStatus = async (...args: unknown[]): Promise<void> => void this.calls.push({ op: 'patchNodeStatus', args });
  patchNode = async (...args: unknown[]): Promise<void> => void this.calls.push({ op: 'patchNode', args });
  deletePod = async (...args: unknown[]): Promise<void> => {
    this.calls.push({ op: 'deletePod', args });
    if (this.failDelete) throw this.failDelete;
  };
  createEvent = async (e: EventSpec): Promise<void> => void this.calls.push({ op: 'event', args: [e] });
  watchPods = async (_f: string | undefined, _cb: (e: PodWatchEvent) => void): Promise<WatchHandle> => ({ stop: () => undefined, ended: new Promise(() => undefined) });
  ops(): string[] {
    return this.calls.map((c) => c.op);
  }
}

function node(name: string, heartbeatMs: number, labels: Record<string, string> = {}): V1Node {
  return {
    metadata: { name, uid: `u-${name}`, resourceVersion: '42', labels, creationTimestamp: new Date(T0) },
    spec: {},
    status: { conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: new Date(heartbeatMs), lastTransitionTime: new Date(T0) }] },
  };
}

describe('NodeLifecycleController.pass', () => {
  it('writes conditions with the resourceVersion, taints with timeAdded, deletes and records events; a 404 on delete is not an error', async () => {
    const api = new FakeApi();
    let now = T0;
    const ctl = new NodeLifecycleController({ lifecycle: { ...DEFAULT_LIFECYCLE_CONFIG, nodeMonitorGracePeriodMs: 2000 }, nodeMonitorPeriodMs: 500 }, { api, logger: silentLogger(), clock: { now: () => now, sleep: () => Promise.resolve() } });
    api.nodes = [node('a', T0), node('b', T0)];
    api.pods = [{ metadata: { name: 'p', namespace: 'ns', uid: 'pu' }, spec: { nodeName: 'a', containers: [] }, status: { phase: 'Running' } }];
    await ctl.pass();
    expect(api.calls).toEqual([]);
    now = T0 + 3000;
    api.nodes = [node('a', T0), node('b', now)];
    await ctl.pass();
    const status = api.calls.find((c) => c.op === 'patchNodeStatus');
    expect(status?.args[0]).toBe('a');
    expect(status?.args[1]).toMatchObject({ metadata: { resourceVersion: '42' }, status: { conditions: [{ type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown', lastTransitionTime: new Date(now).toISOString(), lastHeartbeatTime: new Date(T0).toISOString() }] } });
    expect(api.ops()).toEqual(expect.arrayContaining(['patchNodeStatus', 'event', 'patchPodStatus', 'patchNode']));
    api.calls.length = 0;
    now += 500;
    const a = node('a', T0);
    a.status = { conditions: [{ type: 'Ready', status: 'Unknown', lastHeartbeatTime: new Date(T0), lastTransitionTime: new Date(T0 + 3000) }] };
    a.spec = { taints: [{ key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule' }] };
    api.nodes = [a, node('b', now)];
    api.failDelete = new KubeApiError('KUBE_NOT_FOUND', 'gone', 404, 'NotFound', {});
    await ctl.pass();
    const taints = api.calls.find((c) => c.op === 'patchNode');
    expect(taints?.args).toEqual(['a', { spec: { taints: [{ key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule' }, { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: new Date(now).toISOString() }] } }, 'merge']);
    expect(api.calls.find((c) => c.op === 'deletePod')?.args).toEqual(['ns', 'p']);
    const ev = api.calls.find((c) => c.op === 'event')?.args[0] as EventSpec;
    expect(ev).toMatchObject({ namespace: 'ns', reason: 'TaintManagerEviction', component: 'taint-controller', involved: { kind: 'Pod', name: 'p', namespace: 'ns' } });
  });
});

describe('LabScheduler.cycle', () => {
  it('binds, spreads a batch, and marks the rest Unschedulable once per message', async () => {
    const api = new FakeApi();
    const s = new LabScheduler({ resyncPeriodMs: 1000 }, { api, logger: silentLogger(), clock: new FakeClock(T0) });
    api.nodes = [node('n1', T0), node('n2', T0, { disk: 'ssd' })];
    const p = (name: string, sel: Record<string, string> = {}): V1Pod => ({ metadata: { name, namespace: 'default', uid: name, creationTimestamp: new Date(T0) }, spec: { containers: [], nodeSelector: sel }, status: { phase: 'Pending' } });
    api.pods = [p('a'), p('b'), p('c', { gpu: 'yes' })];
    const r = await s.cycle();
    expect(r.bound).toEqual([{ pod: 'default/a', node: 'n1' }, { pod: 'default/b', node: 'n2' }]);
    expect(r.unschedulable).toEqual([{ pod: 'default/c', message: "0/2 nodes are available: 2 node(s) didn't match node selector." }]);
    expect(api.calls.filter((c) => c.op === 'bind').map((c) => c.args)).toEqual([['default', 'a', 'a', 'n1'], ['default', 'b', 'b', 'n2']]);
    expect(api.calls.find((c) => c.op === 'patchPodStatus')?.args[2]).toMatchObject({ status: { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] } });
    api.calls.length = 0;
    const c = p('c', { gpu: 'yes' });
    c.status = { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: "0/2 nodes are available: 2 node(s) didn't match node selector." }] };
    api.pods = [c];
    await s.cycle();
    expect(api.calls).toEqual([]);
  });
});
