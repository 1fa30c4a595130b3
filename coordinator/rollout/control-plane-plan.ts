/**
 * The actions of one control-plane step, in the order of the procedure, and which one comes next
 * given the journal: pure (no I/O, no clock). The engine (./control-plane.ts) takes the action,
 * journaling it before and its outcome after.
 *
 *   a. baseline of the pods (for the post-checks), etcd snapshot (taken, fetched, verified)
 *   b. pre hooks; Hold kube-controller-manager and kube-scheduler on every control-plane node
 *   c. kube-apiserver, one node at a time
 *   d. controller-manager and scheduler swapped while held
 *   e. the kubelet steps of this control-plane step
 *   f. pods touched for their not-ready/unreachable tolerations, when this step's controller-manager
 *      is the first with TaintBasedEvictions on by default
 *   g. Release controller-manager and scheduler, post hooks, post-checks
 */
import { CONTROLLERS, type Controller, type ControlPlaneStepSpec, type HookSpec } from './spec.ts';

export type CpAction =
  | { readonly key: string; readonly kind: 'baseline' }
  | { readonly key: string; readonly kind: 'etcd-snapshot'; readonly node: string }
  | { readonly key: string; readonly kind: 'hook'; readonly when: 'pre' | 'post'; readonly index: number; readonly command: string }
  | { readonly key: string; readonly kind: 'hold'; readonly node: string; readonly component: Controller }
  | { readonly key: string; readonly kind: 'apiserver'; readonly node: string }
  | { readonly key: string; readonly kind: 'swap'; readonly node: string; readonly component: Controller }
  | { readonly key: string; readonly kind: 'kubelets'; readonly step: number }
  | { readonly key: string; readonly kind: 'tolerations' }
  | { readonly key: string; readonly kind: 'release'; readonly node: string; readonly component: Controller }
  | { readonly key: string; readonly kind: 'post-checks' }
  // Not in the fixed list: taken after a Release failed COMPONENT_UNHEALTHY (./control-plane-recovery.ts).
  | { readonly key: string; readonly kind: 'rollback'; readonly node: string; readonly component: Controller; readonly agentRunId: string }
  | { readonly key: string; readonly kind: 'restart'; readonly node: string; readonly component: Controller };

export type CpActionKind = CpAction['kind'];

/** Journal kinds of control-plane actions: `cp:<step>:<key>` (kubelet nodes use their own kind). */
export const cpJournalKind = (step: number, key: string): string => `cp:${step}:${key}`;

export function parseCpJournalKind(kind: string): { step: number; key: string } | undefined {
  const m = /^cp:(\d+):(.+)$/.exec(kind);
  return m ? { step: Number(m[1]), key: m[2]! } : undefined;
}

export function controlPlaneActions(step: ControlPlaneStepSpec, hooks: readonly HookSpec[]): CpAction[] {
  const nodes = [...step.nodes].sort((a, b) => a.name.localeCompare(b.name));
  const runs = (c: string) => nodes.filter((n) => n.components.includes(c));
  const controllers = nodes.flatMap((n) => CONTROLLERS.filter((c) => n.components.includes(c)).map((c) => ({ node: n.name, component: c })));
  const hookActions = (when: 'pre' | 'post'): CpAction[] =>
    hooks.filter((h) => h.when === when).map((h, index) => ({ key: `hook:${when}:${index}`, kind: 'hook', when, index, command: h.command }));
  return [
    { key: 'baseline', kind: 'baseline' },
    { key: 'etcd-snapshot', kind: 'etcd-snapshot', node: step.etcdNode },
    ...hookActions('pre'),
    ...controllers.map((c): CpAction => ({ key: `hold:${c.node}:${c.component}`, kind: 'hold', ...c })),
    ...runs('kube-apiserver').map((n): CpAction => ({ key: `apiserver:${n.name}`, kind: 'apiserver', node: n.name })),
    ...controllers.map((c): CpAction => ({ key: `swap:${c.node}:${c.component}`, kind: 'swap', ...c })),
    ...step.kubeletSteps.map((s): CpAction => ({ key: `kubelets:${s}`, kind: 'kubelets', step: s })),
    ...(step.touchTolerations ? [{ key: 'tolerations', kind: 'tolerations' } as const] : []),
    ...controllers.map((c): CpAction => ({ key: `release:${c.node}:${c.component}`, kind: 'release', ...c })),
    ...hookActions('post'),
    { key: 'post-checks', kind: 'post-checks' },
  ];
}

/** What the journal says about one action key: its entries, oldest first. */
export interface JournalEntry {
  readonly id: number;
  readonly outcome: 'ok' | 'error' | null;
  readonly payload: string;
  readonly result: string;
}

export type NextAction =
  | { readonly done: true }
  | {
    readonly done: false;
    readonly action: CpAction;
    /** 1 for the first try; a failed try is retried with the next attempt. */
    readonly attempt: number;
    /** The entry a killed coordinator left open: continue it (same agent run id), do not begin another. */
    readonly open: JournalEntry | undefined;
  };

/** The first action not finished ok, with what the journal holds of it. */
export function nextControlPlaneAction(actions: readonly CpAction[], journal: ReadonlyMap<string, readonly JournalEntry[]>): NextAction {
  for (const action of actions) {
    const entries = journal.get(action.key) ?? [];
    const last = entries[entries.length - 1];
    if (last?.outcome === 'ok') continue;
    return { done: false, action, attempt: last?.outcome === null ? entries.length : entries.length + 1, open: last?.outcome === null ? last : undefined };
  }
  return { done: true };
}

/** Agent run ids of control-plane components, unique per step, node, component and attempt. */
export function componentRunIdFor(runId: string, cpStep: number, node: string, component: string, attempt: number): string {
  return `${runId}.cp${cpStep}.${node}.${component}.a${attempt}`;
}
