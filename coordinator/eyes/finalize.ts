/**
 * Which nodes `kip finalize` restarts and in what order: every node (or the --nodes asked for)
 * whose skip file the consistency loop has removed, one at a time in name order, so the node is
 * back to upstream behaviour (an in-place spec change is honoured again). A node that still has
 * its skip file, runs an upgrade, or whose agent does not answer is skipped with the reason; the
 * agent's own gate (Heal HEAL_FINALIZE) is checked again on the node. Pure.
 */
import { InvalidInputError } from '../../lib/errors.ts';

export interface FinalizeCandidate {
  readonly node: string;
  /** Undefined when the agent did not answer. */
  readonly info?: { readonly skipFilePresent: boolean; readonly kubeletActive: boolean; readonly runRunning: boolean };
  readonly error?: string;
}

export interface FinalizePlan {
  readonly order: readonly string[];
  readonly skipped: readonly { readonly node: string; readonly why: string }[];
}

export function planFinalize(candidates: readonly FinalizeCandidate[], requested: readonly string[] | undefined): FinalizePlan {
  const known = new Set(candidates.map((c) => c.node));
  const unknown = (requested ?? []).filter((n) => !known.has(n));
  if (unknown.length > 0) throw new InvalidInputError('FINALIZE_UNKNOWN_NODE', `--nodes ${unknown.join(', ')}: no agent known for them (check the names, or add them to --inventory)`, { nodes: unknown });
  const wanted = requested && requested.length > 0 ? candidates.filter((c) => requested.includes(c.node)) : candidates;
  const order: string[] = [];
  const skipped: { node: string; why: string }[] = [];
  for (const c of [...wanted].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0))) {
    if (!c.info) skipped.push({ node: c.node, why: `the agent does not answer${c.error ? ` (${c.error})` : ''}` });
    else if (c.info.runRunning) skipped.push({ node: c.node, why: 'an upgrade run is in progress' });
    else if (c.info.skipFilePresent) skipped.push({ node: c.node, why: 'the skip file is still present: not every container carries the running hash yet (kip status --live lists them)' });
    else if (!c.info.kubeletActive) skipped.push({ node: c.node, why: 'the kubelet is not active' });
    else order.push(c.node);
  }
  return { order, skipped };
}
