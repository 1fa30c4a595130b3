/** The pure parts of the control-plane step: action order, next action from the journal, hooks, tolerations, post-checks, Watch gates, rollback selection, run steps. */
import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../lib/errors.ts';
import { controlPlaneActions, nextControlPlaneAction, type JournalEntry } from '../../coordinator/rollout/control-plane-plan.ts';
import { parseHook } from '../../coordinator/rollout/hooks.ts';
import { lacksEvictionTolerations, podsToTouch } from '../../coordinator/rollout/tolerations.ts';
import { baselineOf, postCheckProblems } from '../../coordinator/rollout/postcheck.ts';
import { gateReason, resumeAfterExpiry } from '../../coordinator/rollout/watch-gate.ts';
import { rollbackTargets } from '../../coordinator/rollout/rollback-select.ts';
import { runSteps } from '../../coordinator/plan/run-steps.ts';
import { planVersions } from '../../coordinator/plan/path.ts';
import type { ControlPlaneStepSpec, RunSpec } from '../../coordinator/rollout/spec.ts';
import type { NodeRecord } from '../../coordinator/store/store.ts';
import type { WatchEvent } from '../../coordinator/fleet/port.ts';

const step: ControlPlaneStepSpec = {
  index: 0, from: 'v1.12.10', to: 'v1.13.12', etcdNode: 'cp1', kubeletSteps: [0, 1], touchTolerations: true,
  nodes: [
    { name: 'cp2', components: ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'], apiserverUrl: '' },
    { name: 'cp1', components: ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'], apiserverUrl: '' },
  ],
};

describe('control-plane actions', () => {
  it('are a..g in order, apiservers one node at a time by name', () => {
    const keys = controlPlaneActions(step, [{ when: 'post', command: 'b' }, { when: 'pre', command: 'a' }]).map((a) => a.key);
    expect(keys).toEqual([
      'baseline', 'etcd-snapshot', 'hook:pre:0',
      'hold:cp1:kube-controller-manager', 'hold:cp1:kube-scheduler', 'hold:cp2:kube-controller-manager', 'hold:cp2:kube-scheduler',
      'apiserver:cp1', 'apiserver:cp2',
      'swap:cp1:kube-controller-manager', 'swap:cp1:kube-scheduler', 'swap:cp2:kube-controller-manager', 'swap:cp2:kube-scheduler',
      'kubelets:0', 'kubelets:1', 'tolerations',
      'release:cp1:kube-controller-manager', 'release:cp1:kube-scheduler', 'release:cp2:kube-controller-manager', 'release:cp2:kube-scheduler',
      'hook:post:0', 'post-checks',
    ]);
    expect(controlPlaneActions({ ...step, touchTolerations: false }, []).some((a) => a.kind === 'tolerations')).toBe(false);
  });

  it('next action: skips what finished ok, continues an open one, retries a failed one with the next attempt', () => {
    const actions = controlPlaneActions(step, []);
    const e = (id: number, outcome: JournalEntry['outcome']): JournalEntry => ({ id, outcome, payload: '{}', result: '' });
    expect(nextControlPlaneAction(actions, new Map())).toMatchObject({ done: false, attempt: 1, open: undefined, action: { key: 'baseline' } });
    const j = new Map([['baseline', [e(1, 'ok')]], ['etcd-snapshot', [e(2, 'error'), e(3, null)]]]);
    expect(nextControlPlaneAction(actions, j)).toMatchObject({ attempt: 2, open: { id: 3 }, action: { key: 'etcd-snapshot' } });
    j.set('etcd-snapshot', [e(2, 'error'), e(3, 'error')]);
    expect(nextControlPlaneAction(actions, j)).toMatchObject({ attempt: 3, open: undefined });
    expect(nextControlPlaneAction(actions, new Map(actions.map((a, i) => [a.key, [e(i, 'ok')]])))).toEqual({ done: true });
  });
});

describe('hooks', () => {
  it('parse pre=/post= and refuse anything else as bad input', () => {
    expect(parseHook('pre=amtool silence add x=y')).toEqual({ when: 'pre', command: 'amtool silence add x=y' });
    expect(parseHook('post=a=b')).toEqual({ when: 'post', command: 'a=b' });
    for (const bad of ['pre', 'during=x', 'pre=', 'pre=  ', '=x']) expect(() => parseHook(bad)).toThrow(InvalidInputError);
  });
});

const pod = (name: string, tolerations: V1Pod['spec'] extends infer S ? S extends { tolerations?: infer T } ? T : never : never, phase = 'Running'): V1Pod =>
  ({ metadata: { namespace: 'default', name, uid: name }, spec: { containers: [], tolerations }, status: { phase } });

describe('tolerations (the DefaultTolerationSeconds rule)', () => {
  it('a pod needs both; an empty key or effect tolerates them', () => {
    expect(lacksEvictionTolerations(pod('a', []))).toBe(true);
    expect(lacksEvictionTolerations(pod('b', [{ key: 'node.kubernetes.io/not-ready', effect: 'NoExecute' }]))).toBe(true);
    expect(lacksEvictionTolerations(pod('c', [{ key: 'node.kubernetes.io/not-ready', effect: 'NoExecute' }, { key: 'node.kubernetes.io/unreachable' }]))).toBe(false);
    expect(lacksEvictionTolerations(pod('d', [{ operator: 'Exists' }]))).toBe(false);
    expect(lacksEvictionTolerations(pod('e', [{ key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' }, { operator: 'Exists', effect: 'NoExecute', key: 'node.kubernetes.io/unreachable' }]))).toBe(true);
    expect(podsToTouch([pod('a', []), pod('f', [], 'Succeeded'), pod('d', [{ operator: 'Exists' }])]).map((p) => p.metadata?.name)).toEqual(['a']);
  });
});

describe('post-checks', () => {
  const running = (name: string, restarts: number, phase = 'Running', reason?: string): V1Pod =>
    ({ metadata: { namespace: name.startsWith('kube-') ? 'kube-system' : 'default', name, uid: name }, spec: { containers: [] }, status: { phase, ...(reason ? { reason } : {}), containerStatuses: [{ name: 'c', restartCount: restarts, ready: true, image: '', imageID: '' }] } });
  const ready = { metadata: { name: 'n1' }, status: { conditions: [{ type: 'Ready', status: 'True' }] } };
  it('find Failed pods that ran, grown restart counts and NotReady nodes; component pods may restart', () => {
    const base = baselineOf([running('web', 0), running('db', 2), running('kube-apiserver-cp1', 0)]);
    expect(postCheckProblems(base, [running('web', 0), running('db', 2), running('kube-apiserver-cp1', 1)], [ready])).toEqual([]);
    expect(postCheckProblems(base, [running('web', 0, 'Failed', 'MatchNodeSelector'), running('db', 3)], [ready, { metadata: { name: 'n2' }, status: { conditions: [{ type: 'Ready', status: 'Unknown' }] } }])).toEqual([
      'pod default/web is Failed (MatchNodeSelector)', 'container default/db/c restarted (restartCount 2 -> 3)', 'Node n2 is not Ready',
    ]);
  });
});

const watchEvent = (kind: WatchEvent['kind'], ns = 'default', name = 'web'): WatchEvent => ({
  sequence: 9, kind, observedAtUnixMs: 0, podUid: 'u', podNamespace: ns, podName: name, containerName: 'c', beforeId: '', afterId: '', beforeCreatedAtUnixNs: '', afterCreatedAtUnixNs: '', restarts: 1, exitCode: 0, reason: '', detail: '',
});

describe('Watch gates', () => {
  it('restarts, sandboxes, pods gone, kills and admission failures trip; the rest and component pods do not', () => {
    for (const k of ['CONTAINER_RESTARTED', 'SANDBOX_RECREATED', 'POD_GONE', 'KUBELET_KILLING_UNWANTED_POD', 'KUBELET_PREDICATE_FAILED'] as const) expect(gateReason('w1', watchEvent(k))).toMatch(/on w1: default\/web\/c .*\[watch seq 9\]/);
    for (const k of ['CONTAINER_ADDED', 'KUBELET_STARTED', 'SKIP_FILE_WRITTEN', 'APISERVER_CONNECTIONS_CHANGED'] as const) expect(gateReason('w1', watchEvent(k))).toBeUndefined();
    expect(gateReason('cp1', watchEvent('POD_GONE', 'kube-system', 'kube-scheduler-cp1'))).toBeUndefined();
    expect(gateReason('cp1', watchEvent('POD_GONE', 'kube-system', 'coredns-abc'))).toMatch(/pod killed/);
    // a pod gone on a node not in flight is churn; a restart there still counts
    expect(gateReason('w2', watchEvent('POD_GONE'), false)).toBeUndefined();
    expect(gateReason('w2', watchEvent('CONTAINER_RESTARTED'), false)).toMatch(/container restarted on w2/);
  });
  it('after WATCH_SEQUENCE_EXPIRED: from oldest - 1, or 0 when the agent restarted', () => {
    expect(resumeAfterExpiry({ requested: 5, oldest: 100, latest: 300 })).toBe(99);
    expect(resumeAfterExpiry({ requested: 500, oldest: 1, latest: 3 })).toBe(0);
  });
});

describe('kip rollback selection', () => {
  const spec = { steps: [{ index: 0, to: 'v1.13.12', nodes: [{ name: 'a', from: '', zone: '' }, { name: 'b', from: '', zone: '' }] }, { index: 1, to: 'v1.14.10', nodes: [{ name: 'a', from: '', zone: '' }, { name: 'b', from: '', zone: '' }, { name: 'c', from: '', zone: '' }], kubeProxyNodes: ['b'] }] } as unknown as RunSpec;
  const rec = (stepIndex: number, node: string, phase: NodeRecord['phase'], agentRunId = `r.s${stepIndex}.${node}.a1`): NodeRecord =>
    ({ runId: 'r', step: stepIndex, node, from: '', to: stepIndex === 0 ? 'v1.13.12' : 'v1.14.10', phase, agentRunId, attempt: 1, startedAt: 1, finishedAt: 2, downtimeMs: null, error: '' });
  const records = [rec(0, 'a', 'succeeded'), rec(0, 'b', 'succeeded'), rec(1, 'a', 'succeeded'), rec(1, 'b', 'failed'), rec(1, 'c', 'pending', '')];
  it('the current step\'s touched nodes, kube-proxy before the kubelet', () => {
    const { step, targets } = rollbackTargets(spec, records, undefined);
    expect(step).toBe(1);
    expect(targets.map((t) => [t.node, t.agentRunIds.map((a) => a.runId)])).toEqual([['a', ['r.s1.a.a1']], ['b', ['r.s1.b.a1.kube-proxy', 'r.s1.b.a1']]]);
  });
  it('--nodes narrows; a node outside the current step is bad input', () => {
    expect(rollbackTargets(spec, records, ['b']).targets.map((t) => t.node)).toEqual(['b']);
    expect(rollbackTargets(spec, records, ['c']).targets).toEqual([]);
    expect(() => rollbackTargets(spec, records, ['zz'])).toThrow(/zz is not in the current step \(kubelets -> v1.14.10: a, b, c\)/);
    expect(rollbackTargets(spec, [], undefined)).toEqual({ step: undefined, targets: [] });
  });
});

describe('run steps from a plan', () => {
  const fleet = { nodes: [{ name: 'cp1', components: ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'], apiserverUrl: '' }], etcdNode: 'cp1', kubeProxyNodes: new Set(['w1']) };
  it('one control-plane step per minor owning its kubelet hops; the toleration touch only on 1.12 -> 1.13', () => {
    const plan = planVersions({ apiservers: ['v1.11.10'], nodes: [{ name: 'w1', kubelet: 'v1.11.10' }, { name: 'cp1', kubelet: 'v1.11.10' }] }, 'v1.14.10', ['v1.12.10', 'v1.13.12']);
    const r = runSteps(plan, 'every-step', new Map(), fleet);
    expect(r.controlPlane.map((c) => `${c.from}->${c.to}:${c.touchTolerations}:${c.kubeletSteps.join(',')}`)).toEqual(['v1.11.10->v1.12.10:false:0', 'v1.12.10->v1.13.12:true:1', 'v1.13.12->v1.14.10:false:2']);
    expect(r.sequence).toEqual([{ kind: 'control-plane', step: 0 }, { kind: 'control-plane', step: 1 }, { kind: 'control-plane', step: 2 }]);
    expect(r.steps[0]).toMatchObject({ kubeProxyNodes: ['w1'] });
    // fewest-restarts would move kubelets two minors in one agent run, which the agent refuses
    expect(() => runSteps(plan, 'fewest-restarts', new Map(), fleet)).toThrow(/2 minors at once/);
  });
  it('refuses a control-plane path when no agent reports kube-apiserver', () => {
    const plan = planVersions({ apiservers: ['v1.12.10'], nodes: [] }, 'v1.13.12', []);
    expect(() => runSteps(plan, 'every-step', new Map(), { nodes: [], etcdNode: '', kubeProxyNodes: new Set() })).toThrow(/no agent reports kube-apiserver/);
  });
});
