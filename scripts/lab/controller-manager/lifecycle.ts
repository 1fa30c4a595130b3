/**
 * The lab controller-manager's node lifecycle logic, pure: given nodes, pods, the time and the config,
 * and the state carried from the previous pass, it returns the next state and the actions to take.
 *
 * It follows kubernetes pkg/controller/nodelifecycle (node_lifecycle_controller.go and
 * scheduler/taint_manager.go, v1.10..v1.17), read there and rewritten here:
 * - Health (tryUpdateNodeHealth / tryUpdateNodeStatus before v1.13): the controller keeps its own
 *   probe time per node, set to "now" whenever it sees the Ready condition's lastHeartbeatTime change
 *   (and "now" on first sight, so a restarted controller gives every node a fresh grace period). When
 *   now > probe + --node-monitor-grace-period (--node-startup-grace-period while the node never posted
 *   Ready), Ready becomes Unknown, reason "NodeStatusUnknown", message "Kubelet stopped posting node
 *   status." (never posted: "NodeStatusNeverUpdated", "Kubelet never posted node status."), and the
 *   other kubelet conditions it has (OutOfDisk, MemoryPressure, DiskPressure, PIDPressure) too.
 * - Decisions use the Ready status observed BEFORE this pass's update (observedReadyCondition), so a
 *   node marked Unknown now is tainted / counted for eviction from the next pass on.
 * - TaintBasedEvictions on: Ready False -> node.kubernetes.io/not-ready:NoExecute, Unknown ->
 *   node.kubernetes.io/unreachable:NoExecute (timeAdded set), through a per-zone rate-limited queue
 *   (token bucket, --node-eviction-rate, burst 1); an existing opposite taint is swapped at once; Ready
 *   True removes both at once (markNodeAsReachable).
 *   Off: pods are deleted (rate-limited per node, per zone) once now > ready transition (False) or
 *   last probe (Unknown) + --pod-eviction-timeout; Ready True cancels. DaemonSet pods are kept
 *   (nodeutil.DeletePods). Events: node "DeletingAllPods", pod "NodeControllerEviction".
 * - TaintNodesByCondition on: NoSchedule taints follow the conditions (Ready False/Unknown ->
 *   not-ready/unreachable, MemoryPressure/DiskPressure/PIDPressure/NetworkUnavailable/OutOfDisk True ->
 *   the matching taint) and spec.unschedulable -> node.kubernetes.io/unschedulable; not rate-limited.
 * - Taint manager (--enable-taint-manager): for a pod on a node with NoExecute taints, if some taint is
 *   not tolerated it is deleted now; else it is deleted minTolerationSeconds after the manager first saw
 *   it tainted (a toleration without tolerationSeconds: never; <= 0: now); taints gone -> cancelled.
 *   Events "TaintManagerEviction": "Marking for deletion Pod ns/name" / "Cancelling deletion of Pod ns/name".
 * - Zones (failure-domain.beta.kubernetes.io/region + zone): a zone with no Ready node is in full
 *   disruption, one with > 2 not-ready nodes and >= --unhealthy-zone-threshold of them in partial
 *   disruption (rate --secondary-node-eviction-rate if it has > --large-cluster-size-threshold nodes,
 *   else 0). When EVERY zone is fully disrupted the controller assumes its own network is at fault: it
 *   stops evicting, removes the NoExecute taints / cancels evictions, and when a node comes back it
 *   resets every node's probe time. Nodes named like masters ("...master", "...master-xyz") do not count.
 * - A node becoming not Ready gets a "NodeNotReady" event and its pods' Ready condition set False
 *   (MarkAllPodsNotReady).
 * Not modelled: node leases (NodeLease, beta v1.14; the lab kubelet posts status only), cloud provider
 * shutdown/deletion, adding pressure conditions the kubelet never posted.
 */
import { condition, podKey, tolerationsFor, type ConditionStatus, type NodeCondition, type NodeView, type PodView, type Taint, type TaintEffect, type Toleration } from '../scheduler/model.ts';

export const TAINT_NOT_READY = 'node.kubernetes.io/not-ready';
export const TAINT_UNREACHABLE = 'node.kubernetes.io/unreachable';
export const TAINT_UNSCHEDULABLE = 'node.kubernetes.io/unschedulable';

/** Condition -> NoSchedule taint key, for TaintNodesByCondition (taint keys from k8s.io/api core/v1 well_known_taints.go). */
const CONDITION_TAINTS: ReadonlyArray<{ type: string; status: ConditionStatus; key: string }> = [
  { type: 'Ready', status: 'False', key: TAINT_NOT_READY },
  { type: 'Ready', status: 'Unknown', key: TAINT_UNREACHABLE },
  { type: 'MemoryPressure', status: 'True', key: 'node.kubernetes.io/memory-pressure' },
  { type: 'DiskPressure', status: 'True', key: 'node.kubernetes.io/disk-pressure' },
  { type: 'PIDPressure', status: 'True', key: 'node.kubernetes.io/pid-pressure' },
  { type: 'NetworkUnavailable', status: 'True', key: 'node.kubernetes.io/network-unavailable' },
  { type: 'OutOfDisk', status: 'True', key: 'node.kubernetes.io/out-of-disk' },
];
const NO_SCHEDULE_KEYS = new Set([...CONDITION_TAINTS.map((c) => c.key), TAINT_UNSCHEDULABLE]);
const OTHER_KUBELET_CONDITIONS = ['OutOfDisk', 'MemoryPressure', 'DiskPressure', 'PIDPressure'];

export const ZONE_LABEL = 'failure-domain.beta.kubernetes.io/zone';
export const REGION_LABEL = 'failure-domain.beta.kubernetes.io/region';

export interface LifecycleConfig {
  readonly nodeMonitorGracePeriodMs: number;
  readonly nodeStartupGracePeriodMs: number;
  readonly podEvictionTimeoutMs: number;
  /** Nodes per second per zone (tainting, or evicting all pods of a node). */
  readonly nodeEvictionRate: number;
  readonly secondaryNodeEvictionRate: number;
  readonly unhealthyZoneThreshold: number;
  readonly largeClusterSizeThreshold: number;
  readonly taintManager: boolean;
  readonly taintBasedEvictions: boolean;
  readonly taintNodesByCondition: boolean;
}

export const DEFAULT_LIFECYCLE_CONFIG: LifecycleConfig = {
  nodeMonitorGracePeriodMs: 40_000,
  nodeStartupGracePeriodMs: 60_000,
  podEvictionTimeoutMs: 300_000,
  nodeEvictionRate: 0.1,
  secondaryNodeEvictionRate: 0.01,
  unhealthyZoneThreshold: 0.55,
  largeClusterSizeThreshold: 50,
  taintManager: true,
  taintBasedEvictions: true,
  taintNodesByCondition: true,
};

export type ZoneState = 'Initial' | 'Normal' | 'PartialDisruption' | 'FullDisruption';

interface NodeHealth {
  readonly hasReady: boolean;
  readonly heartbeatMs: number | undefined;
  readonly transitionMs: number | undefined;
  readonly probeMs: number;
  readonly readyTransitionMs: number;
}

interface Bucket {
  readonly qps: number;
  readonly tokens: number;
  readonly lastMs: number;
}

interface ZoneQueue {
  /** Nodes waiting for a token, in order. */
  readonly queue: readonly string[];
  /** Without taint-based evictions: nodes whose pods were already deleted in this not-ready episode. */
  readonly done: readonly string[];
  readonly bucket: Bucket;
}

interface ScheduledEviction {
  readonly uid: string;
  readonly createdAtMs: number;
  readonly fireAtMs: number;
}

export interface LifecycleState {
  readonly health: Readonly<Record<string, NodeHealth>>;
  readonly zoneStates: Readonly<Record<string, ZoneState>>;
  readonly zones: Readonly<Record<string, ZoneQueue>>;
  readonly scheduled: Readonly<Record<string, ScheduledEviction>>;
}

export function initialLifecycleState(): LifecycleState {
  return { health: {}, zoneStates: {}, zones: {}, scheduled: {} };
}

export interface PodRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

export interface EventAction {
  readonly kind: 'event';
  readonly object: { readonly kind: 'Node' | 'Pod'; readonly name: string; readonly namespace?: string; readonly uid?: string };
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
  readonly component: 'node-controller' | 'taint-controller';
}

export type LifecycleAction =
  /** Strategic-merge the given conditions into the node's status (only if still at resourceVersion). */
  | { readonly kind: 'setNodeConditions'; readonly node: string; readonly resourceVersion: string; readonly conditions: readonly NodeCondition[] }
  /** Replace the node's taint list. */
  | { readonly kind: 'setNodeTaints'; readonly node: string; readonly taints: readonly Taint[]; readonly added: readonly Taint[]; readonly removed: readonly Taint[] }
  | { readonly kind: 'markPodNotReady'; readonly pod: PodRef; readonly node: string }
  | { readonly kind: 'deletePod'; readonly pod: PodRef; readonly node: string; readonly reason: 'TaintManagerEviction' | 'NodeControllerEviction' }
  | EventAction;

export interface LifecycleInput {
  readonly nodes: readonly NodeView[];
  readonly pods: readonly PodView[];
  readonly nowMs: number;
  readonly config: LifecycleConfig;
}

export interface LifecycleResult {
  readonly state: LifecycleState;
  readonly actions: LifecycleAction[];
  /** The earliest time something is due without any change in the cluster (a scheduled eviction, a queued node), if any. */
  readonly nextDueMs: number | undefined;
}

export function zoneKey(node: NodeView): string {
  const region = node.labels[REGION_LABEL] ?? '';
  const zone = node.labels[ZONE_LABEL] ?? '';
  return region === '' && zone === '' ? '' : `${region}:\x00:${zone}`;
}

/** system.IsMasterNode of v1.10..v1.17: such nodes do not count for zone disruption. */
export function isMasterNodeName(name: string): boolean {
  if (name.endsWith('master')) return true;
  return name.length >= 10 && name.slice(0, -3).endsWith('master-');
}

/** computeZoneState: full disruption when nothing is Ready; partial when > 2 and >= threshold are not. */
export function computeZoneState(readyStatuses: readonly (ConditionStatus | undefined)[], unhealthyThreshold: number): ZoneState {
  const ready = readyStatuses.filter((s) => s === 'True').length;
  const notReady = readyStatuses.length - ready;
  if (ready === 0 && notReady > 0) return 'FullDisruption';
  if (notReady > 2 && notReady / (notReady + ready) >= unhealthyThreshold) return 'PartialDisruption';
  return 'Normal';
}

/** getMinTolerationTime: ms, or -1 for "forever". */
export function minTolerationMs(used: readonly Toleration[]): number {
  if (used.length === 0) return 0;
  let min = Number.POSITIVE_INFINITY;
  for (const t of used) {
    if (t.tolerationSeconds === undefined) continue;
    if (t.tolerationSeconds <= 0) return 0;
    min = Math.min(min, t.tolerationSeconds);
  }
  return min === Number.POSITIVE_INFINITY ? -1 : min * 1000;
}

/** GetMatchingTolerations: whether every taint is tolerated, and the tolerations used. */
export function matchingTolerations(taints: readonly Taint[], tolerations: readonly Toleration[]): { allTolerated: boolean; used: Toleration[] } {
  const used: Toleration[] = [];
  for (const taint of taints) {
    const m = tolerationsFor(tolerations, taint);
    if (m.length === 0) return { allTolerated: false, used: [] };
    for (const t of m) if (!used.includes(t)) used.push(t);
  }
  return { allTolerated: true, used };
}

function takeToken(b: Bucket, nowMs: number): { ok: boolean; bucket: Bucket } {
  if (b.qps <= 0) return { ok: false, bucket: { ...b, lastMs: nowMs } };
  const tokens = Math.min(1, b.tokens + (Math.max(0, nowMs - b.lastMs) / 1000) * b.qps);
  if (tokens >= 1 - 1e-9) return { ok: true, bucket: { qps: b.qps, tokens: tokens - 1, lastMs: nowMs } };
  return { ok: false, bucket: { qps: b.qps, tokens, lastMs: nowMs } };
}

function nextTokenMs(b: Bucket): number | undefined {
  if (b.qps <= 0) return undefined;
  return b.lastMs + Math.max(0, ((1 - b.tokens) / b.qps) * 1000);
}

function newBucket(qps: number, nowMs: number): Bucket {
  return { qps, tokens: 1, lastMs: nowMs };
}

function sameTaint(a: Taint, b: { key: string; effect: TaintEffect }): boolean {
  return a.key === b.key && a.effect === b.effect;
}

export function reconcileNodeLifecycle(input: LifecycleInput, previous: LifecycleState): LifecycleResult {
  const { config, nowMs: now } = input;
  const nodes = [...input.nodes].sort((a, b) => a.name.localeCompare(b.name));
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const podsByNode = new Map<string, PodView[]>();
  for (const p of input.pods) {
    if (!p.nodeName) continue;
    const list = podsByNode.get(p.nodeName) ?? [];
    list.push(p);
    podsByNode.set(p.nodeName, list);
  }

  const health: Record<string, NodeHealth> = {};
  const zoneStates: Record<string, ZoneState> = { ...previous.zoneStates };
  const zones: Record<string, { queue: string[]; done: string[]; bucket: Bucket }> = {};
  for (const [k, z] of Object.entries(previous.zones)) zones[k] = { queue: [...z.queue], done: [...z.done], bucket: z.bucket };
  const scheduled: Record<string, ScheduledEviction> = { ...previous.scheduled };

  const conditionActions: LifecycleAction[] = [];
  const nodeEvents: LifecycleAction[] = [];
  const podActions: LifecycleAction[] = [];
  const deletions: LifecycleAction[] = [];
  /** Working copy of each node's taints; compared with the original at the end. */
  const taints = new Map<string, Taint[]>(nodes.map((n) => [n.name, [...n.taints]]));
  /** Ready status after this pass's update (undefined: no Ready condition). */
  const currentReady = new Map<string, ConditionStatus | undefined>();
  const zoneReady = new Map<string, Array<ConditionStatus | undefined>>();

  const removeNoExecute = (name: string): void => {
    const list = taints.get(name) ?? [];
    taints.set(name, list.filter((t) => !(t.effect === 'NoExecute' && (t.key === TAINT_NOT_READY || t.key === TAINT_UNREACHABLE))));
  };
  const swapNoExecute = (name: string, add: string): void => {
    removeNoExecute(name);
    taints.get(name)?.push({ key: add, effect: 'NoExecute', timeAddedMs: now });
  };
  const dequeue = (zone: string, name: string, alsoDone: boolean): void => {
    const z = zones[zone];
    if (!z) return;
    z.queue = z.queue.filter((n) => n !== name);
    if (alsoDone) z.done = z.done.filter((n) => n !== name);
  };

  // 1. Node health, and the per-node decisions on the Ready status observed before this pass.
  for (const node of nodes) {
    const zone = zoneKey(node);
    if (!zones[zone]) zones[zone] = { queue: [], done: [], bucket: newBucket(config.nodeEvictionRate, now) };
    if (!zoneStates[zone]) zoneStates[zone] = 'Initial';

    const ready = condition(node, 'Ready');
    const gracePeriod = ready ? config.nodeMonitorGracePeriodMs : config.nodeStartupGracePeriodMs;
    let saved = previous.health[node.name];
    if (!ready && !saved) saved = { hasReady: false, heartbeatMs: undefined, transitionMs: undefined, probeMs: node.creationMs, readyTransitionMs: node.creationMs };
    const fresh = (): NodeHealth => ({ hasReady: ready !== undefined, heartbeatMs: ready?.lastHeartbeatMs, transitionMs: ready?.lastTransitionMs, probeMs: now, readyTransitionMs: now });
    if (!saved) saved = fresh();
    else if (!saved.hasReady && ready) saved = fresh();
    else if (saved.hasReady && !ready) saved = fresh();
    else if (ready && saved.heartbeatMs !== ready.lastHeartbeatMs) {
      saved = {
        hasReady: true,
        heartbeatMs: ready.lastHeartbeatMs,
        transitionMs: ready.lastTransitionMs,
        probeMs: now,
        readyTransitionMs: saved.transitionMs !== ready.lastTransitionMs ? now : saved.readyTransitionMs,
      };
    }

    const observed: ConditionStatus = ready?.status ?? 'Unknown';
    let current: ConditionStatus | undefined = ready?.status;
    if (now > saved.probeMs + gracePeriod) {
      const changed: NodeCondition[] = [];
      if (!ready) {
        changed.push({ type: 'Ready', status: 'Unknown', reason: 'NodeStatusNeverUpdated', message: 'Kubelet never posted node status.', lastHeartbeatMs: node.creationMs, lastTransitionMs: now });
      } else if (ready.status !== 'Unknown') {
        changed.push({ ...ready, status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastTransitionMs: now });
      }
      if (changed.length > 0) {
        current = 'Unknown';
        for (const type of OTHER_KUBELET_CONDITIONS) {
          const c = condition(node, type);
          if (c && c.status !== 'Unknown') changed.push({ ...c, status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastTransitionMs: now });
        }
        conditionActions.push({ kind: 'setNodeConditions', node: node.name, resourceVersion: node.resourceVersion, conditions: changed });
        saved = { ...saved, readyTransitionMs: now };
      }
    }
    health[node.name] = saved;
    currentReady.set(node.name, current);
    if (!isMasterNodeName(node.name)) {
      const list = zoneReady.get(zone) ?? [];
      list.push(current);
      zoneReady.set(zone, list);
    }

    if (current !== undefined) {
      const has = (key: string): boolean => (taints.get(node.name) ?? []).some((t) => sameTaint(t, { key, effect: 'NoExecute' }));
      const enqueue = (): void => {
        const z = zones[zone];
        if (z && !z.queue.includes(node.name) && !z.done.includes(node.name)) z.queue.push(node.name);
      };
      if (config.taintBasedEvictions) {
        if (observed === 'False') {
          if (has(TAINT_UNREACHABLE)) swapNoExecute(node.name, TAINT_NOT_READY);
          else if (!has(TAINT_NOT_READY)) enqueue();
        } else if (observed === 'Unknown') {
          if (has(TAINT_NOT_READY)) swapNoExecute(node.name, TAINT_UNREACHABLE);
          else if (!has(TAINT_UNREACHABLE)) enqueue();
        } else {
          removeNoExecute(node.name);
          dequeue(zone, node.name, true);
        }
      } else if (observed === 'False') {
        if (now > saved.readyTransitionMs + config.podEvictionTimeoutMs) enqueue();
      } else if (observed === 'Unknown') {
        if (now > saved.probeMs + config.podEvictionTimeoutMs) enqueue();
      } else {
        dequeue(zone, node.name, true);
      }
      if (current !== 'True' && observed === 'True') {
        nodeEvents.push({ kind: 'event', object: { kind: 'Node', name: node.name, uid: node.uid }, type: 'Normal', reason: 'NodeNotReady', message: `Node ${node.name} status is now: NodeNotReady`, component: 'node-controller' });
        for (const p of podsByNode.get(node.name) ?? []) {
          if (p.conditions.Ready?.status === 'False') continue;
          podActions.push({ kind: 'markPodNotReady', pod: { namespace: p.namespace, name: p.name, uid: p.uid }, node: node.name });
        }
      }
    }
  }

  // 2. Zone disruption (handleDisruption).
  const newZoneStates = new Map<string, ZoneState>();
  for (const [zone, statuses] of zoneReady) newZoneStates.set(zone, computeZoneState(statuses, config.unhealthyZoneThreshold));
  for (const zone of Object.keys(zoneStates)) {
    if (!zoneReady.has(zone)) {
      delete zoneStates[zone];
    }
  }
  for (const zone of Object.keys(zones)) if (!nodes.some((n) => zoneKey(n) === zone)) delete zones[zone];
  const allAre = newZoneStates.size > 0 && [...newZoneStates.values()].every((s) => s === 'FullDisruption');
  const allWas = Object.values(zoneStates).every((s) => s === 'FullDisruption');
  const limiterFor = (zone: string, state: ZoneState): number => {
    if (state === 'PartialDisruption') return (zoneReady.get(zone)?.length ?? 0) > config.largeClusterSizeThreshold ? config.secondaryNodeEvictionRate : 0;
    return config.nodeEvictionRate;
  };
  const setLimiter = (zone: string, qps: number): void => {
    const z = zones[zone];
    if (z) z.bucket = newBucket(qps, now);
  };
  if (newZoneStates.size > 0 && (!allAre || !allWas)) {
    if (allAre) {
      for (const node of nodes) {
        if (config.taintBasedEvictions) removeNoExecute(node.name);
        dequeue(zoneKey(node), node.name, true);
      }
      for (const zone of Object.keys(zoneStates)) {
        setLimiter(zone, 0);
        zoneStates[zone] = 'FullDisruption';
      }
    } else if (allWas) {
      for (const name of Object.keys(health)) {
        const h = health[name];
        if (h) health[name] = { ...h, probeMs: now, readyTransitionMs: now };
      }
      for (const zone of Object.keys(zoneStates)) {
        const s = newZoneStates.get(zone) ?? 'Normal';
        setLimiter(zone, limiterFor(zone, s));
        zoneStates[zone] = s;
      }
    } else {
      for (const zone of Object.keys(zoneStates)) {
        const s = newZoneStates.get(zone);
        if (!s || s === zoneStates[zone]) continue;
        setLimiter(zone, limiterFor(zone, s));
        zoneStates[zone] = s;
      }
    }
  }

  // 3. The rate-limited queues: NoExecute tainting, or deleting every pod of a node.
  for (const zone of Object.keys(zones).sort()) {
    const z = zones[zone];
    if (!z) continue;
    while (z.queue.length > 0) {
      const token = takeToken(z.bucket, now);
      z.bucket = token.bucket;
      if (!token.ok) break;
      const name = z.queue.shift() ?? '';
      const node = byName.get(name);
      if (!node) continue;
      const status = currentReady.get(name);
      if (config.taintBasedEvictions) {
        if (status === 'False') swapNoExecute(name, TAINT_NOT_READY);
        else if (status === 'Unknown') swapNoExecute(name, TAINT_UNREACHABLE);
      } else {
        z.done.push(name);
        nodeEvents.push({ kind: 'event', object: { kind: 'Node', name, uid: node.uid }, type: 'Normal', reason: 'DeletingAllPods', message: `Deleting all Pods from Node ${name}.`, component: 'node-controller' });
        for (const p of podsByNode.get(name) ?? []) {
          if (p.deleting || p.ownerKinds.includes('DaemonSet')) continue;
          deletions.push({ kind: 'event', object: { kind: 'Pod', name: p.name, namespace: p.namespace, uid: p.uid }, type: 'Normal', reason: 'NodeControllerEviction', message: `Marking for deletion Pod ${p.name} from Node ${name}`, component: 'node-controller' });
          deletions.push({ kind: 'deletePod', pod: { namespace: p.namespace, name: p.name, uid: p.uid }, node: name, reason: 'NodeControllerEviction' });
        }
      }
    }
  }

  // 4. TaintNodesByCondition: NoSchedule taints follow the (updated) conditions.
  if (config.taintNodesByCondition) {
    for (const node of nodes) {
      const desired = new Set<string>();
      for (const ct of CONDITION_TAINTS) {
        const status = ct.type === 'Ready' ? currentReady.get(node.name) : condition(node, ct.type)?.status;
        if (status === ct.status) desired.add(ct.key);
      }
      if (node.unschedulable) desired.add(TAINT_UNSCHEDULABLE);
      const list = (taints.get(node.name) ?? []).filter((t) => !(t.effect === 'NoSchedule' && NO_SCHEDULE_KEYS.has(t.key) && !desired.has(t.key)));
      for (const key of desired) if (!list.some((t) => sameTaint(t, { key, effect: 'NoSchedule' }))) list.push({ key, effect: 'NoSchedule' });
      taints.set(node.name, list);
    }
  }

  // 5. The taint manager, on the taints as this pass leaves them.
  const seen = new Set<string>();
  if (config.taintManager) {
    for (const p of [...input.pods].sort((a, b) => podKey(a).localeCompare(podKey(b)))) {
      if (!p.nodeName || !byName.has(p.nodeName)) continue;
      const key = podKey(p);
      seen.add(key);
      const ref = { kind: 'Pod' as const, name: p.name, namespace: p.namespace, uid: p.uid };
      const noExecute = (taints.get(p.nodeName) ?? []).filter((t) => t.effect === 'NoExecute');
      const existing = scheduled[key]?.uid === p.uid ? scheduled[key] : undefined;
      const cancel = (): void => {
        if (!scheduled[key]) return;
        delete scheduled[key];
        if (existing) deletions.push({ kind: 'event', object: ref, type: 'Normal', reason: 'TaintManagerEviction', message: `Cancelling deletion of Pod ${key}`, component: 'taint-controller' });
      };
      const evict = (): void => {
        delete scheduled[key];
        if (p.deleting) return;
        deletions.push({ kind: 'event', object: ref, type: 'Normal', reason: 'TaintManagerEviction', message: `Marking for deletion Pod ${key}`, component: 'taint-controller' });
        deletions.push({ kind: 'deletePod', pod: { namespace: p.namespace, name: p.name, uid: p.uid }, node: p.nodeName, reason: 'TaintManagerEviction' });
      };
      if (noExecute.length === 0) {
        cancel();
        continue;
      }
      const { allTolerated, used } = matchingTolerations(noExecute, p.tolerations);
      if (!allTolerated) {
        evict();
        continue;
      }
      const min = minTolerationMs(used);
      if (min < 0) {
        cancel();
        continue;
      }
      const entry = existing ?? { uid: p.uid, createdAtMs: now, fireAtMs: now + min };
      if (now >= entry.fireAtMs) evict();
      else scheduled[key] = entry;
    }
  }
  for (const key of Object.keys(scheduled)) if (!seen.has(key)) delete scheduled[key];

  // 6. Taint writes, one per changed node.
  const taintActions: LifecycleAction[] = [];
  for (const node of nodes) {
    const next = taints.get(node.name) ?? [];
    const added = next.filter((t) => !node.taints.some((o) => sameTaint(o, t)));
    const removed = node.taints.filter((o) => !next.some((t) => sameTaint(o, t)));
    if (added.length > 0 || removed.length > 0) taintActions.push({ kind: 'setNodeTaints', node: node.name, taints: next, added, removed });
  }

  let nextDueMs: number | undefined;
  const due = (t: number | undefined): void => {
    if (t !== undefined && (nextDueMs === undefined || t < nextDueMs)) nextDueMs = t;
  };
  for (const s of Object.values(scheduled)) due(s.fireAtMs);
  for (const z of Object.values(zones)) if (z.queue.length > 0) due(nextTokenMs(z.bucket));

  return {
    state: { health, zoneStates, zones, scheduled },
    actions: [...conditionActions, ...nodeEvents, ...podActions, ...taintActions, ...deletions],
    nextDueMs,
  };
}
