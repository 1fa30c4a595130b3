/**
 * Which agent runs `kip rollback` undoes, pure: the nodes of the run's current kubelet step (the
 * last one any node started) that an agent run touched, optionally narrowed by --nodes; for each,
 * its kube-proxy run (when the node runs kube-proxy as a component) and then its kubelet run, by
 * the run ids recorded in the journal. The control plane is never rolled back here.
 */
import { InvalidInputError } from '../../lib/errors.ts';
import type { NodeRecord } from '../store/store.ts';
import type { RunSpec } from './spec.ts';

export interface RollbackTarget {
  readonly node: string;
  readonly step: number;
  /** The version the node is rolled back to. */
  readonly from: string;
  readonly to: string;
  /** Agent run ids to roll back, in order (kube-proxy first, then the kubelet). */
  readonly agentRunIds: readonly { readonly component: string; readonly runId: string }[];
}

export function rollbackTargets(spec: RunSpec, records: readonly NodeRecord[], only: readonly string[] | undefined): { step: number | undefined; targets: RollbackTarget[] } {
  const touched = records.filter((r) => r.agentRunId !== '' && r.phase !== 'pending' && r.phase !== 'rolled-back');
  const started = records.filter((r) => r.agentRunId !== '');
  const step = started.length > 0 ? Math.max(...started.map((r) => r.step)) : undefined;
  if (step === undefined) {
    if (only && only.length > 0) throw new InvalidInputError('ROLLBACK_UNKNOWN_NODE', `--nodes ${only.join(',')}: no node of this run was upgraded yet`, { nodes: only });
    return { step, targets: [] };
  }
  const stepSpec = spec.steps.find((s) => s.index === step);
  const inStep = new Set(stepSpec?.nodes.map((n) => n.name) ?? []);
  if (only) {
    const unknown = only.filter((n) => !inStep.has(n));
    if (unknown.length > 0) throw new InvalidInputError('ROLLBACK_UNKNOWN_NODE', `--nodes: ${unknown.join(', ')} ${unknown.length > 1 ? 'are' : 'is'} not in the current step (kubelets -> ${stepSpec?.to ?? '?'}: ${[...inStep].sort().join(', ')})`, { unknown });
  }
  const targets = touched
    .filter((r) => r.step === step && (!only || only.includes(r.node)))
    .sort((a, b) => a.node.localeCompare(b.node))
    .map((r) => ({
      node: r.node, step, from: r.from, to: r.to,
      agentRunIds: [...(stepSpec?.kubeProxyNodes?.includes(r.node) ? [{ component: 'kube-proxy', runId: `${r.agentRunId}.kube-proxy` }] : []), { component: 'kubelet', runId: r.agentRunId }],
    }));
  return { step, targets };
}
