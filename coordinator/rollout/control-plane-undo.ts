/**
 * What `kip rollback` must know of a run with control-plane steps: which controllers the run
 * rolled back by itself (./control-plane-recovery.ts) and are still on their old version, and how
 * its kubelet rollback is made visible to the control-plane journal, so that `kip resume`
 * upgrades those kubelets again instead of taking the step's finished "kubelets" action as done.
 */
import type { ActionRecord, RunStore } from '../store/store.ts';
import { cpJournalKind, parseCpJournalKind, type JournalEntry } from './control-plane-plan.ts';
import { automaticRollbacks, type AutomaticRollback } from './control-plane-recovery.ts';
import type { RunSpec } from './spec.ts';

function journalsByStep(actions: readonly ActionRecord[]): Map<number, Map<string, JournalEntry[]>> {
  const out = new Map<number, Map<string, JournalEntry[]>>();
  for (const a of actions) {
    const k = parseCpJournalKind(a.kind);
    if (!k) continue;
    const step = out.get(k.step) ?? new Map<string, JournalEntry[]>();
    const list = step.get(k.key) ?? [];
    list.push({ id: a.id, outcome: a.outcome, payload: a.payload, result: a.result });
    step.set(k.key, list);
    out.set(k.step, step);
  }
  return out;
}

/** Controllers rolled back automatically after a failed Release and not upgraded again since. */
export function controllersRolledBack(actions: readonly ActionRecord[]): AutomaticRollback[] {
  return [...journalsByStep(actions)].flatMap(([step, journal]) => automaticRollbacks(step, journal));
}

/** One line per controller for the operator, or '' when there is none. */
export function describeRolledBack(list: readonly AutomaticRollback[]): string {
  return list.map((r) => `${r.component} on ${r.node} was rolled back by kip after its Release failed (agent run ${r.agentRunId}${r.fromVersion ? `; it runs ${r.fromVersion}` : ''}); kip resume upgrades it again`).join('\n');
}

/**
 * After `kip rollback` rolled back nodes of kubelet step `step`: the control-plane step that owns
 * it gets a failed "kubelets" entry (begun and finished at once), so the next action of that step
 * is its kubelets again; the engine upgrades the rolled-back nodes and skips the others.
 */
export function reopenKubeletStep(store: RunStore, runId: string, spec: RunSpec, step: number, at: number): boolean {
  const owner = spec.controlPlane?.find((c) => c.kubeletSteps.includes(step));
  if (!owner) return false;
  store.batch(() => {
    const id = store.beginAction({ runId, kind: cpJournalKind(owner.index, `kubelets:${step}`), node: '', payload: JSON.stringify({ cpStep: owner.index, attempt: 0, by: 'kip rollback' }), at });
    store.finishAction(id, 'error', JSON.stringify({ reason: 'kip rollback rolled back nodes of this kubelet step; kip resume upgrades them again' }), at);
  });
  return true;
}
