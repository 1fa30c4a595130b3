/**
 * The kubelets' apiserver connections as the rollout engine records them around each node's step
 * (store ConnectionRecord): looked at over GetNode right before the node is upgraded and again
 * once it is done, so a step that multiplied them (1.17 kubelets holding about ten long-lived
 * connections instead of one: kubernetes PR #95427, fixed by #105490) is measured against the
 * counts before that step, not against whenever an operator last ran kip status --live.
 */
import { after, type Clock } from '../../lib/clock.ts';
import type { AgentPort, NodeInfo } from '../fleet/port.ts';
import type { ConnectionRecord } from '../store/store.ts';
import { multipliedConnections, type ConnectionSnapshot, type ConnectionWarning, type NodeConnections } from './connections.ts';

export interface ConnectionLook {
  readonly counts: Readonly<Record<string, number>>;
  readonly closedConnectionErrors: number;
}

export function connectionLookOf(info: Pick<NodeInfo, 'apiserverConnections' | 'connectionErrors'>): ConnectionLook {
  return {
    counts: Object.fromEntries((info.apiserverConnections ?? []).map((c) => [c.endpoint, c.established])),
    closedConnectionErrors: info.connectionErrors?.count ?? 0,
  };
}

/**
 * GetNode within `timeoutMs`, or undefined (an agent that does not answer, or answers no counts:
 * nothing is recorded; the upgrade never waits on this longer than the timeout).
 */
export function lookConnections(agent: AgentPort | undefined, clock: Clock, timeoutMs: number): Promise<ConnectionLook | undefined> {
  if (!agent) return Promise.resolve(undefined);
  // A timer cancelled on the answer instead of a sleep raced with an AbortController: the engine
  // looks twice per node, and an AbortSignal's listener and Event were most of a look's cost.
  return new Promise<ConnectionLook | undefined>((resolve) => {
    let answered = false;
    const answer = (info: NodeInfo | undefined): void => {
      if (answered) return;
      answered = true;
      cancel();
      resolve(info && Array.isArray(info.apiserverConnections) && info.apiserverConnections.length > 0 ? connectionLookOf(info) : undefined);
    };
    const cancel = after(clock, timeoutMs, () => answer(undefined));
    Promise.resolve().then(() => agent.getNode()).then(answer, () => answer(undefined));
  });
}

/** Per node, the counts recorded before its first step of the run that has a look (the baseline for --live). */
export function preStepBaseline(records: readonly ConnectionRecord[]): ConnectionSnapshot | undefined {
  const nodes: Record<string, Readonly<Record<string, number>>> = {};
  let at = Infinity;
  let runId = '';
  for (const r of [...records].filter((x) => x.when === 'before' && Object.keys(x.counts).length > 0).sort((a, b) => a.step - b.step || a.at - b.at)) {
    if (nodes[r.node]) continue;
    nodes[r.node] = r.counts;
    at = Math.min(at, r.at);
    runId = r.runId;
  }
  return Object.keys(nodes).length === 0 ? undefined : { at, runId, nodes };
}

/** Recorded before-step counts replace the earlier --live look for the nodes that have them. */
export function withRecordedBaseline(recorded: ConnectionSnapshot | undefined, looked: ConnectionSnapshot | undefined): ConnectionSnapshot | undefined {
  if (!recorded) return looked;
  if (!looked) return recorded;
  return { at: Math.min(recorded.at, looked.at), runId: recorded.runId, nodes: { ...looked.nodes, ...recorded.nodes } };
}

export interface StepConnections {
  readonly step: number;
  readonly node: string;
  readonly before: number | undefined;
  readonly after: number | undefined;
}

const total = (m: Readonly<Record<string, number>> | undefined): number | undefined => (m === undefined ? undefined : Object.values(m).reduce((a, b) => a + b, 0));

/** For kip report: per step and node the totals before and after, and the warnings of every step that multiplied them. */
export function stepConnectionReport(records: readonly ConnectionRecord[]): { rows: StepConnections[]; warnings: (ConnectionWarning & { readonly step: number })[] } {
  const key = (r: ConnectionRecord) => `${r.step}\u0000${r.node}`;
  const before = new Map(records.filter((r) => r.when === 'before').map((r) => [key(r), r]));
  const after = new Map(records.filter((r) => r.when === 'after').map((r) => [key(r), r]));
  const keys = [...new Set([...before.keys(), ...after.keys()])];
  const rows = keys.map((k) => {
    const r = (before.get(k) ?? after.get(k))!;
    return { step: r.step, node: r.node, before: total(before.get(k)?.counts), after: total(after.get(k)?.counts) };
  }).sort((a, b) => a.step - b.step || a.node.localeCompare(b.node));
  const warnings: (ConnectionWarning & { step: number })[] = [];
  for (const step of [...new Set(rows.map((r) => r.step))]) {
    const b: Record<string, Readonly<Record<string, number>>> = {};
    const a: Record<string, Readonly<Record<string, number>>> = {};
    let at = Infinity;
    for (const [k, r] of before) {
      const done = after.get(k);
      if (r.step !== step || !done) continue;
      b[r.node] = r.counts;
      a[r.node] = done.counts;
      at = Math.min(at, r.at);
    }
    if (Object.keys(b).length === 0) continue;
    for (const w of multipliedConnections({ at, runId: '', nodes: b }, a as NodeConnections)) warnings.push({ ...w, step });
  }
  return { rows, warnings };
}
