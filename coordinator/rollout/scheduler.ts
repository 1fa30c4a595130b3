/**
 * The pure scheduler of one kubelet step: (state, observations, now) -> what to start now, and
 * whether to pause. No I/O; the engine applies the decision and reports outcomes back through the
 * reducers below.
 *
 * Rules:
 * - a deterministic order: zones interleaved (one node per zone in turn, zones and nodes by
 *   name), so a failure in the first nodes is not a whole zone down;
 * - canaries first (`--canary N`: the first N of that order, or `--canary-nodes`), one at a time,
 *   and no other node starts before every canary succeeded;
 * - a sliding window: at most maxConcurrency nodes in flight;
 * - never more than maxUnavailable nodes NotReady: a node starts only when the NotReady nodes
 *   plus the nodes in flight (each may go NotReady) stay within it; more NotReady nodes in the
 *   cluster than allowed pauses the run (the apiserver's load balancer is suffering);
 * - a node in flight longer than nodeTimeoutMs, or a failed node, pauses the run;
 * - pause stops new work and keeps the running work: in-flight nodes finish and are recorded.
 */
import { InvalidInputError } from '../../lib/errors.ts';

export const ZONE_LABELS = ['topology.kubernetes.io/zone', 'failure-domain.beta.kubernetes.io/zone'] as const;

export interface SchedulerConfig {
  readonly maxConcurrency: number;
  readonly maxUnavailable: number;
  readonly nodeTimeoutMs: number;
}

export type NodeStatus = 'pending' | 'in-flight' | 'succeeded' | 'failed';

export interface SchedulerState {
  /** Every node of the step, in the order they start. */
  readonly order: readonly string[];
  readonly canaries: ReadonlySet<string>;
  readonly status: ReadonlyMap<string, NodeStatus>;
  readonly startedAt: ReadonlyMap<string, number>;
  readonly paused: string | undefined;
}

export interface Observations {
  /** Nodes of the cluster (this step's or not) that are NotReady now. */
  readonly notReady: ReadonlySet<string>;
}

export interface Decision {
  readonly start: readonly string[];
  /** Set when the run must pause now (it was not paused before). */
  readonly pause: string | undefined;
  readonly inFlight: number;
  /** Every node succeeded. */
  readonly finished: boolean;
}

export function validateConfig(c: SchedulerConfig): void {
  if (!Number.isInteger(c.maxConcurrency) || c.maxConcurrency < 1) throw new InvalidInputError('ROLLOUT_BAD_CONCURRENCY', `--max-concurrency must be at least 1 (got ${c.maxConcurrency})`, { value: c.maxConcurrency });
  if (!Number.isInteger(c.maxUnavailable) || c.maxUnavailable < 1) throw new InvalidInputError('ROLLOUT_BAD_UNAVAILABLE', `--max-unavailable must be at least 1 (got ${c.maxUnavailable}): a kubelet restart makes its node NotReady for a moment`, { value: c.maxUnavailable });
}

/** Zones interleaved: zone order by name, nodes by name within a zone; nodes without a zone form their own zone "". */
export function interleaveByZone(nodes: readonly { readonly name: string; readonly zone: string }[]): string[] {
  const zones = new Map<string, string[]>();
  for (const n of [...nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const list = zones.get(n.zone) ?? [];
    if (!list.includes(n.name)) list.push(n.name);
    zones.set(n.zone, list);
  }
  const lists = [...zones.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, l]) => l);
  const out: string[] = [];
  for (let i = 0; out.length < lists.reduce((s, l) => s + l.length, 0); i++) for (const l of lists) if (l[i] !== undefined) out.push(l[i]!);
  return out;
}

export function zoneOf(labels: Readonly<Record<string, string>> | undefined): string {
  for (const k of ZONE_LABELS) if (labels?.[k]) return labels[k]!;
  return '';
}

/**
 * The step's order and canaries: explicit canary nodes (each must be in the step) or the first
 * `canaryCount` of the interleaved order; canaries move to the front.
 */
export function initialState(nodes: readonly { readonly name: string; readonly zone: string }[], canary: { count: number } | { nodes: readonly string[] }): SchedulerState {
  const order = interleaveByZone(nodes);
  let canaries: string[];
  if ('nodes' in canary) {
    const missing = canary.nodes.filter((n) => !order.includes(n));
    if (missing.length > 0) throw new InvalidInputError('ROLLOUT_UNKNOWN_CANARY', `canary node${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not among the nodes this step upgrades (${order.join(', ') || 'none'})`, { missing });
    canaries = order.filter((n) => canary.nodes.includes(n));
  } else {
    if (!Number.isInteger(canary.count) || canary.count < 0) throw new InvalidInputError('ROLLOUT_BAD_CANARY', `--canary must be 0 or more (got ${canary.count})`);
    canaries = order.slice(0, canary.count);
  }
  const rest = order.filter((n) => !canaries.includes(n));
  return {
    order: [...canaries, ...rest],
    canaries: new Set(canaries),
    status: new Map([...canaries, ...rest].map((n) => [n, 'pending' as NodeStatus])),
    startedAt: new Map(),
    paused: undefined,
  };
}

export function decide(s: SchedulerState, obs: Observations, now: number, c: SchedulerConfig): Decision {
  // One pass over the order (the engine decides after every node outcome; a step may hold
  // thousands of nodes): in flight, finished, the first failed, canaries left, the pending ones.
  const inFlight: string[] = [];
  const pending: string[] = [];
  let finished = true;
  let failed: string | undefined;
  let canariesLeft = 0;
  for (const n of s.order) {
    const st = s.status.get(n);
    if (st !== 'succeeded') {
      finished = false;
      if (s.canaries.has(n)) canariesLeft++;
    }
    if (st === 'in-flight') inFlight.push(n);
    else if (st === 'pending') pending.push(n);
    else if (st === 'failed' && failed === undefined) failed = n;
  }
  let pause: string | undefined;
  if (!s.paused) {
    const late = inFlight.find((n) => now - (s.startedAt.get(n) ?? now) > c.nodeTimeoutMs);
    if (failed) pause = `node ${failed} failed`;
    else if (late) pause = `node ${late} has not finished within ${Math.round(c.nodeTimeoutMs / 1000)} s`;
    else if (obs.notReady.size > c.maxUnavailable) pause = `${obs.notReady.size} nodes are NotReady (${[...obs.notReady].sort().join(', ')}), more than --max-unavailable ${c.maxUnavailable}`;
  }
  if (s.paused || pause || finished) return { start: [], pause, inFlight: inFlight.length, finished };
  const unavailable = new Set([...obs.notReady, ...inFlight]);
  const start: string[] = [];
  for (const n of pending) {
    if (inFlight.length + start.length >= c.maxConcurrency) break;
    // Canaries go one at a time, and nothing else starts until every canary succeeded.
    if (canariesLeft > 0) {
      if (!s.canaries.has(n) || inFlight.length + start.length > 0) break;
    }
    if (!unavailable.has(n) && unavailable.size + 1 > c.maxUnavailable) break;
    start.push(n);
    unavailable.add(n);
  }
  return { start, pause: undefined, inFlight: inFlight.length, finished };
}

const withStatus = (s: SchedulerState, node: string, st: NodeStatus): SchedulerState => {
  if (!s.status.has(node)) throw new RangeError(`node ${node} is not in this step`);
  return { ...s, status: new Map(s.status).set(node, st) };
};

export function markStarted(s: SchedulerState, node: string, now: number): SchedulerState {
  return { ...withStatus(s, node, 'in-flight'), startedAt: new Map(s.startedAt).set(node, now) };
}

export function markSucceeded(s: SchedulerState, node: string): SchedulerState {
  return withStatus(s, node, 'succeeded');
}

export function markFailed(s: SchedulerState, node: string, reason: string): SchedulerState {
  return { ...withStatus(s, node, 'failed'), paused: s.paused ?? `node ${node}: ${reason}` };
}

export function pause(s: SchedulerState, reason: string): SchedulerState {
  return s.paused ? s : { ...s, paused: reason };
}

/** Resume: a failed node is tried again (a new agent run), the pause is lifted. */
export function resume(s: SchedulerState): SchedulerState {
  const status = new Map(s.status);
  for (const [n, st] of status) if (st === 'failed') status.set(n, 'pending');
  return { ...s, status, paused: undefined };
}
