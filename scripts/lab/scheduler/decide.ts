/**
 * The lab scheduler's pure decision: which pods it owns, which nodes fit a pod, and which node it picks.
 *
 * Filters, after the real default predicates of v1.10..v1.17 (pkg/scheduler/algorithm/predicates):
 * the node must be Ready (CheckNodeCondition; from v1.12 the real scheduler relies on the
 * not-ready/unreachable NoSchedule taints of TaintNodesByCondition instead, which our
 * controller-manager adds too, so requiring Ready is the same decision a little earlier), not
 * spec.unschedulable (CheckNodeUnschedulable), match the pod's nodeSelector (MatchNodeSelector) and
 * have every NoSchedule/NoExecute taint tolerated (PodToleratesNodeTaints).
 * Choice: deterministic, the fewest (non-terminal) pods, then the node name. The real scheduler scores
 * (LeastRequested, BalancedResource, ...) and breaks ties at random; the lab wants repeatable runs.
 * Failure messages use the real FitError format: "0/3 nodes are available: 1 node(s) didn't match node
 * selector, 2 node(s) had taints that the pod didn't tolerate." (reasons sorted, as the real one does).
 */
import { isNodeReady, isTerminal, toleratesTaint, type NodeView, type PodView } from './model.ts';

export const DEFAULT_SCHEDULER_NAME = 'default-scheduler';

export const REASON_NOT_READY = "node(s) were not ready";
export const REASON_UNSCHEDULABLE = "node(s) were unschedulable";
export const REASON_NODE_SELECTOR = "node(s) didn't match node selector";
export const REASON_TAINTS = "node(s) had taints that the pod didn't tolerate";

/** Pods this scheduler must place: unassigned, not finished, not being deleted, ours by schedulerName. */
export function isSchedulable(pod: PodView, schedulerName = DEFAULT_SCHEDULER_NAME): boolean {
  return pod.nodeName === '' && !isTerminal(pod) && !pod.deleting && (pod.schedulerName === '' || pod.schedulerName === schedulerName);
}

/** Why `node` cannot take `pod`, or undefined when it fits. */
export function unfitReason(pod: PodView, node: NodeView): string | undefined {
  if (!isNodeReady(node)) return REASON_NOT_READY;
  if (node.unschedulable) return REASON_UNSCHEDULABLE;
  for (const [k, v] of Object.entries(pod.nodeSelector)) {
    if (node.labels[k] !== v) return REASON_NODE_SELECTOR;
  }
  for (const taint of node.taints) {
    if (taint.effect === 'PreferNoSchedule') continue;
    if (!pod.tolerations.some((t) => toleratesTaint(t, taint))) return REASON_TAINTS;
  }
  return undefined;
}

export type ScheduleDecision =
  | { readonly kind: 'bind'; readonly node: string }
  | { readonly kind: 'unschedulable'; readonly message: string };

export function fitErrorMessage(total: number, reasons: ReadonlyMap<string, number>): string {
  const parts = [...reasons.entries()].map(([r, n]) => `${n} ${r}`).sort();
  return `0/${total} nodes are available${parts.length ? `: ${parts.join(', ')}` : ''}.`;
}

/**
 * Picks a node for `pod`. `podsPerNode` counts the non-terminal pods already assigned to each node
 * (the caller adds each binding it makes, so a batch spreads out).
 */
export function schedulePod(pod: PodView, nodes: readonly NodeView[], podsPerNode: ReadonlyMap<string, number>): ScheduleDecision {
  const reasons = new Map<string, number>();
  let best: { name: string; pods: number } | undefined;
  for (const node of nodes) {
    const reason = unfitReason(pod, node);
    if (reason) {
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      continue;
    }
    const pods = podsPerNode.get(node.name) ?? 0;
    if (!best || pods < best.pods || (pods === best.pods && node.name < best.name)) best = { name: node.name, pods };
  }
  if (best) return { kind: 'bind', node: best.name };
  return { kind: 'unschedulable', message: fitErrorMessage(nodes.length, reasons) };
}

/** Non-terminal pods per node. */
export function countPods(pods: readonly PodView[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of pods) if (p.nodeName && !isTerminal(p)) out.set(p.nodeName, (out.get(p.nodeName) ?? 0) + 1);
  return out;
}

/** Scheduling order: oldest first, then namespace/name (the real queue is FIFO by arrival, with priorities). */
export function schedulingOrder(pods: readonly PodView[]): PodView[] {
  return [...pods].sort((a, b) => a.creationMs - b.creationMs || `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
}
