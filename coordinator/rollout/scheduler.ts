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
 *
 * A node's life: pending -> in-flight (its kubelet swap: from the agent run's start until the
 * Node is Ready again with the new kubelet) -> verifying (the engine's last look: its containers
 * settled and none restarted) -> succeeded, or failed from in-flight or verifying. A verifying
 * node keeps its --max-concurrency slot: a node is done only when none of its containers
 * restarted (issue 10's definition of the window), so with --max-concurrency 1 a restart that
 * node's look finds pauses the run before the next kubelet is touched; freeing the slot at the
 * swap would be faster (bench: about 15 points nearer the ideal at 1000 nodes) but lets up to
 * --max-concurrency more kubelets swap after a restart happened and before it was seen. Only
 * in-flight nodes count as unavailable: a verifying node's Node was seen Ready with the new
 * kubelet (should it flap, the NotReady observation counts it again). A canary is done only when
 * it succeeded, a pause waits for verifying nodes to finish, a failed look pauses the run, and the
 * node timeout covers the look too.
 *
 * The state is persistent (./status-map.ts) and carries its own summaries (a cursor to the first
 * pending node, canaries left, the nodes started and not finished), so each change and each
 * decision costs the nodes it touches, not the whole step.
 */
import { InvalidInputError } from '../../lib/errors.ts';
import { StatusMap } from './status-map.ts';

export const ZONE_LABELS = ['topology.kubernetes.io/zone', 'failure-domain.beta.kubernetes.io/zone'] as const;

export interface SchedulerConfig {
  readonly maxConcurrency: number;
  readonly maxUnavailable: number;
  readonly nodeTimeoutMs: number;
}

export type NodeStatus = 'pending' | 'in-flight' | 'verifying' | 'succeeded' | 'failed';

export interface SchedulerState {
  /** Every node of the step, in the order they start. */
  readonly order: readonly string[];
  readonly canaries: ReadonlySet<string>;
  readonly status: StatusMap<NodeStatus>;
  /** The nodes in flight or verifying, in start order, with when each started (a node leaves when it succeeds or fails). */
  readonly active: readonly ActiveNode[];
  readonly paused: string | undefined;
  /** Every node of `order` before this index has started (the next pending one is at or after it). */
  readonly cursor: number;
  /** Canaries that have not succeeded yet. */
  readonly canariesLeft: number;
}

export interface ActiveNode {
  readonly node: string;
  readonly startedAt: number;
}

export interface Observations {
  /** Nodes of the cluster (this step's or not) that are NotReady now. */
  readonly notReady: ReadonlySet<string>;
}

export interface Decision {
  readonly start: readonly string[];
  /** Set when the run must pause now (it was not paused before). */
  readonly pause: string | undefined;
  /** Kubelet swaps in flight (the --max-concurrency slots taken). */
  readonly inFlight: number;
  /** Nodes swapped whose last look is still running. */
  readonly verifying: number;
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
  const seen = new Set<string>();
  for (const n of [...nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (seen.has(n.name)) continue;
    seen.add(n.name);
    const list = zones.get(n.zone) ?? [];
    list.push(n.name);
    zones.set(n.zone, list);
  }
  const lists = [...zones.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, l]) => l);
  const out: string[] = [];
  for (let i = 0; out.length < seen.size; i++) for (const l of lists) if (l[i] !== undefined) out.push(l[i]!);
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
  const chosen = new Set(canaries);
  const rest = order.filter((n) => !chosen.has(n));
  const all = [...canaries, ...rest];
  return { order: all, canaries: chosen, status: StatusMap.of<NodeStatus>(all, 'pending'), active: [], paused: undefined, cursor: 0, canariesLeft: chosen.size };
}

export function decide(s: SchedulerState, obs: Observations, now: number, c: SchedulerConfig): Decision {
  // Costs the nodes started and not finished plus the pending ones it looks at: the engine decides
  // after every node event, and a step may hold thousands of nodes.
  const inFlight: string[] = [];
  let verifying = 0;
  let late: string | undefined;
  for (const { node: n, startedAt: at } of s.active) {
    const st = s.status.get(n);
    if (st === 'in-flight') inFlight.push(n);
    else if (st === 'verifying') verifying++;
    else continue;
    if (late === undefined && now - at > c.nodeTimeoutMs) late = n;
  }
  const finished = s.status.count('succeeded') === s.order.length;
  let pause: string | undefined;
  if (!s.paused) {
    const failed = s.status.count('failed') > 0 ? s.order.find((n) => s.status.get(n) === 'failed') : undefined;
    if (failed) pause = `node ${failed} failed`;
    else if (late) pause = `node ${late} has not finished within ${Math.round(c.nodeTimeoutMs / 1000)} s`;
    else if (obs.notReady.size > c.maxUnavailable) pause = `${obs.notReady.size} nodes are NotReady (${[...obs.notReady].sort().join(', ')}), more than --max-unavailable ${c.maxUnavailable}`;
  }
  if (s.paused || pause || finished) return { start: [], pause, inFlight: inFlight.length, verifying, finished };
  const unavailable = new Set([...obs.notReady, ...inFlight]);
  const start: string[] = [];
  for (let i = s.cursor; i < s.order.length; i++) {
    if (s.status.at(i) !== 'pending') continue;
    const n = s.order[i]!;
    if (inFlight.length + verifying + start.length >= c.maxConcurrency) break;
    // Canaries go one at a time (a verifying canary is not done yet), and nothing else starts
    // until every canary succeeded.
    if (s.canariesLeft > 0) {
      if (!s.canaries.has(n) || inFlight.length + verifying + start.length > 0) break;
    }
    if (!unavailable.has(n) && unavailable.size + 1 > c.maxUnavailable) break;
    start.push(n);
    unavailable.add(n);
  }
  return { start, pause: undefined, inFlight: inFlight.length, verifying, finished };
}

/** The node's new status, with the summaries kept in step. */
function withStatus(s: SchedulerState, node: string, st: NodeStatus): SchedulerState {
  const prev = s.status.get(node);
  if (prev === undefined) throw new RangeError(`node ${node} is not in this step`);
  const status = s.status.set(node, st);
  let cursor = s.cursor;
  if (st === 'pending') cursor = Math.min(cursor, status.indexOf(node)!);
  else while (cursor < s.order.length && status.at(cursor) !== 'pending') cursor++;
  const canary = s.canaries.has(node) ? (prev === 'succeeded' ? 1 : 0) - (st === 'succeeded' ? 1 : 0) : 0;
  return { ...s, status, cursor, canariesLeft: s.canariesLeft + canary };
}

const without = (active: readonly ActiveNode[], node: string): readonly ActiveNode[] => active.filter((a) => a.node !== node);

export function markStarted(s: SchedulerState, node: string, now: number): SchedulerState {
  return { ...withStatus(s, node, 'in-flight'), active: [...without(s.active, node), { node, startedAt: now }] };
}

/**
 * The node's kubelet swap is over (its agent run succeeded and its Node is Ready with the new
 * kubelet): it no longer counts as unavailable, but keeps its slot and stays unfinished until its
 * last look succeeds or fails.
 */
export function markSwapped(s: SchedulerState, node: string): SchedulerState {
  return s.status.get(node) === 'in-flight' ? withStatus(s, node, 'verifying') : s;
}

export function markSucceeded(s: SchedulerState, node: string): SchedulerState {
  return { ...withStatus(s, node, 'succeeded'), active: without(s.active, node) };
}

export function markFailed(s: SchedulerState, node: string, reason: string): SchedulerState {
  return { ...withStatus(s, node, 'failed'), active: without(s.active, node), paused: s.paused ?? `node ${node}: ${reason}` };
}

export function pause(s: SchedulerState, reason: string): SchedulerState {
  return s.paused ? s : { ...s, paused: reason };
}

/** Resume: a failed node is tried again (a new agent run), the pause is lifted. */
export function resume(s: SchedulerState): SchedulerState {
  let out = s;
  if (s.status.count('failed') > 0) for (const n of s.order) if (out.status.get(n) === 'failed') out = withStatus(out, n, 'pending');
  return { ...out, paused: undefined };
}
