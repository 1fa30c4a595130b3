import { describe, expect, it } from 'vitest';
import {
  computeZoneState,
  DEFAULT_LIFECYCLE_CONFIG,
  initialLifecycleState,
  isMasterNodeName,
  matchingTolerations,
  minTolerationMs,
  reconcileNodeLifecycle,
  TAINT_NOT_READY,
  TAINT_UNREACHABLE,
  ZONE_LABEL,
  type EventAction,
  type LifecycleAction,
  type LifecycleConfig,
  type LifecycleState,
} from '../../scripts/lab/controller-manager/lifecycle.ts';
import type { ConditionStatus, NodeCondition, NodeView, PodView, Taint, Toleration } from '../../scripts/lab/scheduler/model.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');

/** kube-controller-manager defaults per version (features.ts): 1.12 without, 1.13 with taint-based evictions. */
const V112: LifecycleConfig = { ...DEFAULT_LIFECYCLE_CONFIG, taintBasedEvictions: false, taintNodesByCondition: true };
const V113: LifecycleConfig = { ...DEFAULT_LIFECYCLE_CONFIG, taintBasedEvictions: true, taintNodesByCondition: true };
const V111: LifecycleConfig = { ...DEFAULT_LIFECYCLE_CONFIG, taintBasedEvictions: false, taintNodesByCondition: false };

/** What DefaultTolerationSeconds admission adds (300 s for not-ready and unreachable). */
const DEFAULT_TOLERATIONS: Toleration[] = [
  { key: TAINT_NOT_READY, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
  { key: TAINT_UNREACHABLE, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
];

interface MutableNode {
  name: string;
  labels: Record<string, string>;
  unschedulable: boolean;
  taints: Taint[];
  conditions: NodeCondition[];
  rv: number;
}

/** A tiny in-memory cluster: applies the core's actions as the apiserver would, and plays kubelets. */
class Sim {
  now = T0;
  state: LifecycleState = initialLifecycleState();
  readonly nodes = new Map<string, MutableNode>();
  readonly pods = new Map<string, PodView>();
  readonly events: EventAction[] = [];
  readonly log: Array<{ at: number; action: LifecycleAction }> = [];

  constructor(readonly config: LifecycleConfig) {}

  addNode(name: string, labels: Record<string, string> = {}): void {
    this.nodes.set(name, { name, labels, unschedulable: false, taints: [], conditions: [], rv: 1 });
    this.heartbeat(name, 'True');
  }

  addPod(name: string, node: string, tolerations: Toleration[] = [], extra: Partial<PodView> = {}): void {
    this.pods.set(`default/${name}`, {
      namespace: 'default', name, uid: `uid-${name}`, nodeName: node, schedulerName: 'default-scheduler', nodeSelector: {},
      tolerations, phase: 'Running', creationMs: T0, deleting: false, ownerKinds: [], conditions: { Ready: { status: 'True' } }, ...extra,
    });
  }

  heartbeat(name: string, status: ConditionStatus = 'True'): void {
    const n = this.nodes.get(name);
    if (!n) throw new Error(name);
    const old = n.conditions.find((c) => c.type === 'Ready');
    const transition = old && old.status === status ? old.lastTransitionMs : this.now;
    n.conditions = [
      ...n.conditions.filter((c) => c.type !== 'Ready'),
      { type: 'Ready', status, reason: status === 'True' ? 'KubeletReady' : 'KubeletNotReady', message: 'x', lastHeartbeatMs: this.now, lastTransitionMs: transition },
    ];
    n.rv++;
  }

  view(name: string): NodeView {
    const n = this.nodes.get(name);
    if (!n) throw new Error(name);
    return { name: n.name, uid: `uid-${n.name}`, resourceVersion: String(n.rv), creationMs: T0, labels: n.labels, unschedulable: n.unschedulable, taints: n.taints, conditions: n.conditions };
  }

  pass(): LifecycleAction[] {
    const r = reconcileNodeLifecycle({ nodes: [...this.nodes.keys()].map((n) => this.view(n)), pods: [...this.pods.values()], nowMs: this.now, config: this.config }, this.state);
    this.state = r.state;
    for (const a of r.actions) {
      this.log.push({ at: this.now, action: a });
      if (a.kind === 'setNodeConditions') {
        const n = this.nodes.get(a.node);
        if (!n || String(n.rv) !== a.resourceVersion) continue;
        n.conditions = [...n.conditions.filter((c) => !a.conditions.some((x) => x.type === c.type)), ...a.conditions];
        n.rv++;
      } else if (a.kind === 'setNodeTaints') {
        const n = this.nodes.get(a.node);
        if (n) n.taints = [...a.taints];
      } else if (a.kind === 'deletePod') {
        this.pods.delete(`${a.pod.namespace}/${a.pod.name}`);
      } else if (a.kind === 'markPodNotReady') {
        const key = `${a.pod.namespace}/${a.pod.name}`;
        const p = this.pods.get(key);
        if (p) this.pods.set(key, { ...p, conditions: { ...p.conditions, Ready: { status: 'False' } } });
      } else {
        this.events.push(a);
      }
    }
    return r.actions;
  }

  /** Runs passes every `stepMs` for `ms`, heartbeating the given nodes (Ready unless said otherwise) before each. */
  run(ms: number, heartbeats: Record<string, ConditionStatus> = {}, stepMs = 1000): void {
    const end = this.now + ms;
    while (this.now < end) {
      this.now += stepMs;
      for (const [n, s] of Object.entries(heartbeats)) this.heartbeat(n, s);
      this.pass();
    }
  }

  taintsOf(name: string): string[] {
    return (this.nodes.get(name)?.taints ?? []).map((t) => `${t.key}:${t.effect}`).sort();
  }

  ready(name: string): NodeCondition | undefined {
    return this.nodes.get(name)?.conditions.find((c) => c.type === 'Ready');
  }

  has(pod: string): boolean {
    return this.pods.has(`default/${pod}`);
  }

  reasons(): string[] {
    return this.events.map((e) => `${e.reason}:${e.object.name}`);
  }
}

/** Two workers, so that one node going away is not a full disruption of the (only) zone. */
function cluster(config: LifecycleConfig): Sim {
  const sim = new Sim(config);
  sim.addNode('worker-a');
  sim.addNode('worker-b');
  sim.pass();
  return sim;
}

describe('node health', () => {
  it('marks Ready Unknown (NodeStatusUnknown) once the heartbeat is older than the grace period, with the other kubelet conditions', () => {
    const sim = new Sim({ ...V113, nodeMonitorGracePeriodMs: 40_000 });
    sim.addNode('worker-a');
    sim.addNode('worker-b');
    const a = sim.nodes.get('worker-a');
    a?.conditions.push({ type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory', lastHeartbeatMs: T0, lastTransitionMs: T0 });
    sim.pass();
    sim.run(40_000, { 'worker-b': 'True' });
    expect(sim.ready('worker-a')?.status).toBe('True');
    sim.run(1000, { 'worker-b': 'True' });
    const ready = sim.ready('worker-a');
    expect(ready).toMatchObject({ status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastHeartbeatMs: T0 });
    expect(ready?.lastTransitionMs).toBe(sim.now);
    expect(sim.nodes.get('worker-a')?.conditions.find((c) => c.type === 'MemoryPressure')?.status).toBe('Unknown');
    expect(sim.ready('worker-b')?.status).toBe('True');
    expect(sim.reasons()).toContain('NodeNotReady:worker-a');
  });

  it('measures the grace period from when the controller saw the heartbeat change, not from the heartbeat timestamp', () => {
    const sim = new Sim({ ...V113, nodeMonitorGracePeriodMs: 40_000 });
    sim.addNode('worker-a');
    sim.addNode('worker-b');
    sim.now += 3_600_000; // the controller starts an hour after the last heartbeat
    sim.pass();
    expect(sim.ready('worker-a')?.status).toBe('True');
    sim.run(40_000);
    expect(sim.ready('worker-a')?.status).toBe('True');
    sim.run(1000);
    expect(sim.ready('worker-a')?.status).toBe('Unknown');
  });

  it('a node that never posted Ready gets NodeStatusNeverUpdated after the startup grace period (from its creation)', () => {
    const sim = new Sim(V113);
    sim.addNode('worker-b');
    sim.nodes.set('fresh', { name: 'fresh', labels: {}, unschedulable: false, taints: [], conditions: [], rv: 1 });
    sim.now = T0 + 59_000;
    sim.heartbeat('worker-b');
    sim.pass();
    expect(sim.ready('fresh')).toBeUndefined();
    sim.run(2000, { 'worker-b': 'True' });
    expect(sim.ready('fresh')).toMatchObject({ status: 'Unknown', reason: 'NodeStatusNeverUpdated', message: 'Kubelet never posted node status.' });
  });

  it('does not overwrite a status that changed since it was read (the write carries the resourceVersion)', () => {
    const sim = new Sim({ ...V113, nodeMonitorGracePeriodMs: 2000 });
    sim.addNode('worker-a');
    sim.addNode('worker-b');
    sim.pass();
    sim.now += 3000;
    const actions = reconcileNodeLifecycle({ nodes: [sim.view('worker-a'), sim.view('worker-b')], pods: [], nowMs: sim.now, config: sim.config }, sim.state).actions;
    const update = actions.find((a) => a.kind === 'setNodeConditions' && a.node === 'worker-a');
    expect(update).toMatchObject({ resourceVersion: String(sim.nodes.get('worker-a')?.rv) });
  });
});

describe('taint-based evictions (v1.13+ defaults)', () => {
  it('taints an unreachable node (NoSchedule at once, NoExecute from the next pass) and evicts the pod without tolerations at once', () => {
    const sim = cluster({ ...V113, nodeMonitorGracePeriodMs: 2000 });
    sim.addPod('old', 'worker-a');
    sim.addPod('new', 'worker-a', DEFAULT_TOLERATIONS);
    sim.run(3000, { 'worker-b': 'True' });
    expect(sim.ready('worker-a')?.status).toBe('Unknown');
    expect(sim.taintsOf('worker-a')).toEqual([`${TAINT_UNREACHABLE}:NoSchedule`]);
    expect(sim.has('old')).toBe(true);
    sim.run(1000, { 'worker-b': 'True' });
    expect(sim.taintsOf('worker-a')).toEqual([`${TAINT_UNREACHABLE}:NoExecute`, `${TAINT_UNREACHABLE}:NoSchedule`]);
    expect(sim.nodes.get('worker-a')?.taints.find((t) => t.effect === 'NoExecute')?.timeAddedMs).toBe(sim.now);
    expect(sim.has('old')).toBe(false);
    expect(sim.has('new')).toBe(true);
    expect(sim.events).toContainEqual(expect.objectContaining({ reason: 'TaintManagerEviction', message: 'Marking for deletion Pod default/old', component: 'taint-controller' }));
    expect(sim.taintsOf('worker-b')).toEqual([]);
  });

  it('evicts a pod with tolerationSeconds 300 exactly 300 s after the taint, and never one that tolerates forever', () => {
    const sim = cluster({ ...V113, nodeMonitorGracePeriodMs: 2000 });
    sim.addPod('tolerant', 'worker-a', DEFAULT_TOLERATIONS);
    sim.addPod('forever', 'worker-a', [{ key: TAINT_UNREACHABLE, operator: 'Exists', effect: 'NoExecute' }]);
    sim.addPod('daemon', 'worker-a', [{ operator: 'Exists' }]);
    sim.run(4000, { 'worker-b': 'True' });
    const tainted = sim.log.find((l) => l.action.kind === 'setNodeTaints' && l.action.added.some((t) => t.effect === 'NoExecute'))?.at ?? 0;
    expect(tainted).toBeGreaterThan(0);
    sim.run(tainted + 299_000 - sim.now, { 'worker-b': 'True' });
    expect(sim.has('tolerant')).toBe(true);
    sim.run(1000, { 'worker-b': 'True' });
    expect(sim.has('tolerant')).toBe(false);
    sim.run(600_000, { 'worker-b': 'True' }, 10_000);
    expect(sim.has('forever')).toBe(true);
    expect(sim.has('daemon')).toBe(true);
  });

  it('tells when the next scheduled eviction is due', () => {
    const sim = cluster({ ...V113, nodeMonitorGracePeriodMs: 2000 });
    sim.addPod('tolerant', 'worker-a', [{ key: TAINT_UNREACHABLE, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 }]);
    sim.run(4000, { 'worker-b': 'True' });
    const r = reconcileNodeLifecycle({ nodes: [sim.view('worker-a'), sim.view('worker-b')], pods: [...sim.pods.values()], nowMs: sim.now, config: sim.config }, sim.state);
    const tainted = sim.nodes.get('worker-a')?.taints.find((t) => t.effect === 'NoExecute')?.timeAddedMs ?? 0;
    expect(r.nextDueMs).toBe(tainted + 30_000);
  });

  it('swaps unreachable for not-ready at once when the kubelet comes back NotReady, and removes both when Ready', () => {
    const sim = cluster({ ...V113, nodeMonitorGracePeriodMs: 2000 });
    sim.run(4000, { 'worker-b': 'True' });
    expect(sim.taintsOf('worker-a')).toContain(`${TAINT_UNREACHABLE}:NoExecute`);
    sim.run(1000, { 'worker-a': 'False', 'worker-b': 'True' });
    expect(sim.taintsOf('worker-a')).toEqual([`${TAINT_NOT_READY}:NoExecute`, `${TAINT_NOT_READY}:NoSchedule`]);
    sim.run(1000, { 'worker-a': 'True', 'worker-b': 'True' });
    expect(sim.taintsOf('worker-a')).toEqual([]);
  });

  it('seed scenario: an old pod without tolerations on a node NotReady for a few seconds is evicted; a pod with tolerationSeconds 300 survives the blip', () => {
    const sim = cluster(V113);
    sim.addPod('old', 'worker-a');
    sim.addPod('touched', 'worker-a', DEFAULT_TOLERATIONS);
    sim.run(5000, { 'worker-a': 'False', 'worker-b': 'True' }); // kubelet restart: NotReady for 5 s
    sim.run(60_000, { 'worker-a': 'True', 'worker-b': 'True' });
    expect(sim.has('old')).toBe(false);
    expect(sim.has('touched')).toBe(true);
    expect(sim.taintsOf('worker-a')).toEqual([]);
    expect(sim.events).toContainEqual(expect.objectContaining({ reason: 'TaintManagerEviction', message: 'Cancelling deletion of Pod default/touched' }));
    sim.run(600_000, { 'worker-a': 'True', 'worker-b': 'True' }, 10_000);
    expect(sim.has('touched')).toBe(true);
  });

  it('--feature-gates=TaintBasedEvictions=false on 1.13 behaves like 1.12: the same blip evicts nothing', () => {
    const sim = cluster({ ...V113, taintBasedEvictions: false });
    sim.addPod('old', 'worker-a');
    sim.run(5000, { 'worker-a': 'False', 'worker-b': 'True' });
    sim.run(60_000, { 'worker-a': 'True', 'worker-b': 'True' });
    expect(sim.has('old')).toBe(true);
    expect(sim.taintsOf('worker-a')).toEqual([]);
  });

  it('the taint manager also honours NoExecute taints an admin set, with or without the gate', () => {
    const sim = cluster(V112);
    sim.addPod('plain', 'worker-b');
    sim.addPod('tolerating', 'worker-b', [{ key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoExecute' }]);
    const b = sim.nodes.get('worker-b');
    b?.taints.push({ key: 'dedicated', value: 'db', effect: 'NoExecute' });
    sim.run(1000, { 'worker-a': 'True', 'worker-b': 'True' });
    expect(sim.has('plain')).toBe(false);
    expect(sim.has('tolerating')).toBe(true);
  });
});

describe('pod-eviction-timeout (before v1.13)', () => {
  it('seed scenario: under 1.12 the old pod survives a NotReady of a few seconds', () => {
    const sim = cluster(V112);
    sim.addPod('old', 'worker-a');
    sim.run(5000, { 'worker-a': 'False', 'worker-b': 'True' });
    sim.run(60_000, { 'worker-a': 'True', 'worker-b': 'True' });
    expect(sim.has('old')).toBe(true);
    expect(sim.taintsOf('worker-a')).toEqual([]);
    expect(sim.log.some((l) => l.action.kind === 'deletePod')).toBe(false);
  });

  it('deletes the pods of an unreachable node (not DaemonSet pods) once the last heartbeat is older than the eviction timeout', () => {
    const sim = cluster({ ...V112, nodeMonitorGracePeriodMs: 40_000, podEvictionTimeoutMs: 300_000 });
    sim.addPod('old', 'worker-a');
    sim.addPod('ds', 'worker-a', [], { ownerKinds: ['DaemonSet'] });
    sim.run(300_000, { 'worker-b': 'True' });
    expect(sim.ready('worker-a')?.status).toBe('Unknown');
    expect(sim.has('old')).toBe(true);
    sim.run(2000, { 'worker-b': 'True' });
    expect(sim.has('old')).toBe(false);
    expect(sim.has('ds')).toBe(true);
    expect(sim.reasons()).toEqual(expect.arrayContaining(['DeletingAllPods:worker-a', 'NodeControllerEviction:old']));
    expect(sim.events.find((e) => e.reason === 'NodeControllerEviction')?.message).toBe('Marking for deletion Pod old from Node worker-a');
    expect(sim.taintsOf('worker-a')).toEqual([`${TAINT_UNREACHABLE}:NoSchedule`]);
  });

  it('a node posting Ready=False is evicted after the timeout counted from the transition', () => {
    const sim = cluster({ ...V112, podEvictionTimeoutMs: 10_000 });
    sim.addPod('old', 'worker-a');
    sim.run(10_000, { 'worker-a': 'False', 'worker-b': 'True' });
    expect(sim.has('old')).toBe(true);
    sim.run(2000, { 'worker-a': 'False', 'worker-b': 'True' });
    expect(sim.has('old')).toBe(false);
  });

  it('before TaintNodesByCondition (1.11) no NoSchedule taints are added', () => {
    const sim = cluster({ ...V111, nodeMonitorGracePeriodMs: 2000 });
    sim.run(5000, { 'worker-b': 'True' });
    expect(sim.ready('worker-a')?.status).toBe('Unknown');
    expect(sim.taintsOf('worker-a')).toEqual([]);
  });
});

describe('zones and rate limits', () => {
  it('when every node is unreachable (full disruption of the only zone) nothing is tainted or evicted', () => {
    const sim = cluster({ ...V113, nodeMonitorGracePeriodMs: 2000 });
    sim.addPod('old', 'worker-a');
    sim.run(30_000);
    expect(sim.ready('worker-a')?.status).toBe('Unknown');
    expect(sim.ready('worker-b')?.status).toBe('Unknown');
    expect(sim.taintsOf('worker-a')).not.toContain(`${TAINT_UNREACHABLE}:NoExecute`);
    expect(sim.has('old')).toBe(true);
    expect(sim.state.zoneStates['']).toBe('FullDisruption');
  });

  it('the same applies under 1.12: no pod-eviction-timeout evictions in full disruption', () => {
    const sim = cluster({ ...V112, nodeMonitorGracePeriodMs: 2000, podEvictionTimeoutMs: 5000 });
    sim.addPod('old', 'worker-a');
    sim.run(30_000);
    expect(sim.has('old')).toBe(true);
  });

  it('taints one node per 1/--node-eviction-rate seconds in a zone', () => {
    const sim = new Sim({ ...V113, nodeMonitorGracePeriodMs: 2000, nodeEvictionRate: 0.1 });
    for (const n of ['w1', 'w2', 'w3', 'w4', 'w5', 'w6']) sim.addNode(n);
    sim.pass();
    sim.run(4000, { w3: 'True', w4: 'True', w5: 'True', w6: 'True' });
    const tainted = (): string[] => ['w1', 'w2'].filter((n) => sim.taintsOf(n).includes(`${TAINT_UNREACHABLE}:NoExecute`));
    expect(tainted()).toEqual(['w1']);
    sim.run(8000, { w3: 'True', w4: 'True', w5: 'True', w6: 'True' });
    expect(tainted()).toEqual(['w1']);
    sim.run(2000, { w3: 'True', w4: 'True', w5: 'True', w6: 'True' });
    expect(tainted()).toEqual(['w1', 'w2']);
  });

  it('stops tainting a small zone in partial disruption (> 2 and >= 55 % not ready), while other zones go on', () => {
    const sim = new Sim({ ...V113, nodeMonitorGracePeriodMs: 2000, nodeEvictionRate: 100 });
    for (const n of ['a1', 'a2', 'a3', 'a4']) sim.addNode(n, { [ZONE_LABEL]: 'a' });
    for (const n of ['b1', 'b2']) sim.addNode(n, { [ZONE_LABEL]: 'b' });
    sim.pass();
    sim.run(6000, { a4: 'True', b2: 'True' });
    expect(sim.state.zoneStates[`:\x00:a`]).toBe('PartialDisruption');
    for (const n of ['a1', 'a2', 'a3']) expect(sim.taintsOf(n)).not.toContain(`${TAINT_UNREACHABLE}:NoExecute`);
    expect(sim.taintsOf('b1')).toContain(`${TAINT_UNREACHABLE}:NoExecute`);
  });

  it('master nodes do not count for disruption', () => {
    expect(isMasterNodeName('kube-master')).toBe(true);
    expect(isMasterNodeName('kube-master-x1z')).toBe(true);
    expect(isMasterNodeName('worker-a')).toBe(false);
    const sim = new Sim({ ...V113, nodeMonitorGracePeriodMs: 2000 });
    sim.addNode('lab-master');
    sim.addNode('worker-a');
    sim.pass();
    sim.run(5000, { 'lab-master': 'True' });
    // The only counted node is down: full disruption, although the master is Ready.
    expect(sim.taintsOf('worker-a')).not.toContain(`${TAINT_UNREACHABLE}:NoExecute`);
  });

  it('computeZoneState follows the thresholds', () => {
    expect(computeZoneState(['Unknown', 'False'], 0.55)).toBe('FullDisruption');
    expect(computeZoneState(['True', 'Unknown', 'Unknown'], 0.55)).toBe('Normal');
    expect(computeZoneState(['True', 'Unknown', 'Unknown', 'Unknown'], 0.55)).toBe('PartialDisruption');
    expect(computeZoneState(['True', 'True', 'Unknown', 'Unknown', 'Unknown', 'True'], 0.55)).toBe('Normal');
    expect(computeZoneState([undefined], 0.55)).toBe('FullDisruption');
  });
});

describe('TaintNodesByCondition', () => {
  it('adds node.kubernetes.io/unschedulable for a cordoned node and removes it when uncordoned', () => {
    const sim = cluster(V113);
    const a = sim.nodes.get('worker-a');
    if (a) a.unschedulable = true;
    sim.run(1000, { 'worker-a': 'True', 'worker-b': 'True' });
    expect(sim.taintsOf('worker-a')).toEqual(['node.kubernetes.io/unschedulable:NoSchedule']);
    if (a) a.unschedulable = false;
    sim.run(1000, { 'worker-a': 'True', 'worker-b': 'True' });
    expect(sim.taintsOf('worker-a')).toEqual([]);
  });

  it('keeps taints it does not own', () => {
    const sim = cluster(V113);
    sim.nodes.get('worker-a')?.taints.push({ key: 'dedicated', value: 'db', effect: 'NoSchedule' });
    sim.run(5000, { 'worker-a': 'True', 'worker-b': 'True' });
    expect(sim.taintsOf('worker-a')).toEqual(['dedicated:NoSchedule']);
    expect(sim.log.some((l) => l.action.kind === 'setNodeTaints')).toBe(false);
  });
});

describe('toleration arithmetic', () => {
  const nr: Taint = { key: TAINT_NOT_READY, effect: 'NoExecute' };
  const ur: Taint = { key: TAINT_UNREACHABLE, effect: 'NoExecute' };
  it('minTolerationMs: none -> 0, unset -> forever, <= 0 -> 0, else the smallest', () => {
    expect(minTolerationMs([])).toBe(0);
    expect(minTolerationMs([{ key: 'a', operator: 'Exists' }])).toBe(-1);
    expect(minTolerationMs([{ key: 'a', tolerationSeconds: 300 }, { key: 'b', tolerationSeconds: 60 }])).toBe(60_000);
    expect(minTolerationMs([{ key: 'a', tolerationSeconds: 300 }, { key: 'b', tolerationSeconds: -5 }])).toBe(0);
    expect(minTolerationMs([{ key: 'a' }, { key: 'b', tolerationSeconds: 30 }])).toBe(30_000);
  });
  it('matchingTolerations needs every taint tolerated', () => {
    expect(matchingTolerations([nr, ur], [DEFAULT_TOLERATIONS[0] as Toleration]).allTolerated).toBe(false);
    expect(matchingTolerations([nr, ur], DEFAULT_TOLERATIONS)).toEqual({ allTolerated: true, used: DEFAULT_TOLERATIONS });
    expect(matchingTolerations([nr], [{ operator: 'Exists' }]).allTolerated).toBe(true);
    expect(matchingTolerations([nr], [{ key: TAINT_NOT_READY, operator: 'Exists', effect: 'NoSchedule' }]).allTolerated).toBe(false);
  });
});
