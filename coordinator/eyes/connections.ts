/**
 * The kubelets' apiserver connections across the fleet (GetNode apiserver_connections): summed per
 * endpoint, and compared with an earlier look so a step that multiplies them is called out. Why:
 * 1.17 kubelets hold about ten long-lived connections each instead of one (kubernetes PR #95427,
 * fixed by #105490), enough to overload a load balancer in front of the apiservers. Pure.
 */

export type NodeConnections = Readonly<Record<string, Readonly<Record<string, number>>>>;

export interface ConnectionSnapshot {
  readonly at: number;
  /** The run being looked at when it was taken (empty when none). */
  readonly runId: string;
  /** node -> endpoint -> established connections of its kubelet. */
  readonly nodes: NodeConnections;
}

export interface ConnectionWarning {
  /** A node name, or "endpoint <host:port>" for a fleet-wide sum. */
  readonly object: string;
  readonly before: number;
  readonly now: number;
  readonly message: string;
}

/** A count is "multiplied" when it is at least this many times what it was, and grew by at least MIN_GROWTH. */
export const MULTIPLY_FACTOR = 3;
export const MIN_GROWTH = 3;

export function sumPerEndpoint(nodes: NodeConnections): Record<string, number> {
  const out: Record<string, number> = {};
  for (const perEndpoint of Object.values(nodes)) for (const [e, n] of Object.entries(perEndpoint)) out[e] = (out[e] ?? 0) + n;
  return out;
}

const total = (m: Readonly<Record<string, number>>): number => Object.values(m).reduce((a, b) => a + b, 0);
const multiplied = (before: number, now: number): boolean => now - before >= MIN_GROWTH && now >= MULTIPLY_FACTOR * Math.max(1, before);

const WHY = 'kubelets of 1.17 hold about ten long-lived apiserver connections instead of one (kubernetes PR #95427, fixed by #105490); a load balancer in front of the apiservers may be overloaded: watch its connection count, and prefer a target with the fix';

/** Nodes (present in both) whose kubelet connections multiplied, and endpoints whose fleet sum did. */
export function multipliedConnections(before: ConnectionSnapshot, now: NodeConnections): ConnectionWarning[] {
  const out: ConnectionWarning[] = [];
  for (const [node, counts] of Object.entries(now)) {
    const prev = before.nodes[node];
    if (!prev) continue;
    const [b, n] = [total(prev), total(counts)];
    if (multiplied(b, n)) out.push({ object: node, before: b, now: n, message: `the kubelet's apiserver connections went from ${b} to ${n} since ${new Date(before.at).toISOString()}: ${WHY}` });
  }
  const common = Object.keys(now).filter((n) => before.nodes[n] !== undefined);
  const pick = (m: NodeConnections) => Object.fromEntries(common.map((n) => [n, m[n]!]));
  const [sb, sn] = [sumPerEndpoint(pick(before.nodes)), sumPerEndpoint(pick(now))];
  for (const [e, n] of Object.entries(sn)) {
    const b = sb[e] ?? 0;
    if (multiplied(b, n)) out.push({ object: `endpoint ${e}`, before: b, now: n, message: `the kubelets hold ${n} connections to ${e}, ${b} before: ${WHY}` });
  }
  return out;
}

/** Snapshots kept in the state dir (oldest first). */
export const HISTORY_LIMIT = 100;

/**
 * The counts to compare with, per node: the newest look taken before that node's step started
 * (the run store's node record), so a step that multiplied them is caught however many looks came
 * after it; for a node without a step (or no look before it), the previous look.
 */
export function baselineSnapshot(history: readonly ConnectionSnapshot[], stepStartedAt: Readonly<Record<string, number>>): ConnectionSnapshot | undefined {
  const last = history[history.length - 1];
  if (!last) return undefined;
  const nodes: Record<string, Readonly<Record<string, number>>> = {};
  const names = new Set(history.flatMap((h) => Object.keys(h.nodes)));
  let at = last.at;
  for (const node of names) {
    const started = stepStartedAt[node];
    const before = started !== undefined ? [...history].reverse().find((h) => h.at < started && h.nodes[node]) : undefined;
    const pick = before ?? [...history].reverse().find((h) => h.nodes[node]);
    if (pick?.nodes[node]) {
      nodes[node] = pick.nodes[node];
      at = Math.min(at, pick.at);
    }
  }
  return { at, runId: last.runId, nodes };
}
