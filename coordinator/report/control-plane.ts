/**
 * The report's control-plane actions and per-step restarts, pure, from the journal: every
 * control-plane action (etcd snapshot with path, size and revision; holds; kube-apiserver per
 * node; controllers swapped; tolerations touched; releases; hooks; post-checks) with its times
 * and outcome, and per kubelet step the containers restarted (the engine's inventory gate, in
 * each node's action result) against the containers on the step's nodes and against what an
 * unpatched kubelet would restart (RunSpec.predictedRestarts, stored when the run was created).
 */
import { controlPlaneActions, parseCpJournalKind } from '../rollout/control-plane-plan.ts';
import { describe } from '../rollout/control-plane.ts';
import { ACTION_KUBELET } from '../rollout/engine.ts';
import type { RunSpec } from '../rollout/spec.ts';
import type { ActionRecord } from '../store/store.ts';

export const CP_HEADER = ['Step', 'Action', 'Node', 'Started', 'Duration', 'Outcome', 'Detail'];
export const RESTARTS_HEADER = ['Step', 'Kubelets', 'Containers', 'Restarted', 'Unpatched kubelet would restart'];

export interface CpRow {
  readonly kind: string;
  readonly cells: readonly string[];
}

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const iso = (ms: number): string => new Date(ms).toISOString();

function parse(text: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : undefined);

/** What one finished action says, by kind. */
export function actionDetail(kind: string, outcome: ActionRecord['outcome'], resultText: string): string {
  const r = parse(resultText);
  if (outcome === 'error') return typeof r.reason === 'string' ? r.reason : 'failed';
  if (outcome === null) return 'in progress (open in the journal)';
  switch (kind) {
    case 'baseline': return `${Object.keys(parse(JSON.stringify(r.pods ?? {}))).length} running pods recorded`;
    case 'etcd-snapshot': return `${String(r.path)} (${num(r.sizeBytes) ?? '?'} bytes, revision ${num(r.revision) ?? '?'}, sha256 ${String(r.sha256 ?? '').slice(0, 12)}…, from ${String(r.node)})`;
    case 'hold': return r.changed === false ? 'already held' : 'held (stopped)';
    case 'apiserver':
    case 'swap': {
      const down = num(r.downtimeMs);
      return `agent run ${String(r.agentRunId)}${down === undefined ? '' : `, down ${secs(down)}`}`;
    }
    case 'release': return r.started === false ? 'was running' : 'started and healthy';
    case 'hook': return typeof r.output === 'string' && r.output ? r.output : 'ok';
    case 'tolerations': return `${num(r.touched) ?? 0} pods touched; each carries the not-ready/unreachable tolerations`;
    case 'kubelets': return 'the step\'s kubelets (rows below)';
    case 'post-checks': return 'every check passed';
    default: return '';
  }
}

/** One row per journaled control-plane action (every attempt), in the order they were begun. */
export function controlPlaneRows(spec: RunSpec, actions: readonly ActionRecord[]): CpRow[] {
  const steps = spec.controlPlane ?? [];
  const known = new Map(steps.flatMap((s) => controlPlaneActions(s, spec.hooks ?? []).map((a) => [`${s.index}:${a.key}`, a] as const)));
  return actions.flatMap((a): CpRow[] => {
    const k = parseCpJournalKind(a.kind);
    if (!k) return [];
    const step = steps[k.step];
    const action = known.get(`${k.step}:${k.key}`);
    const kind = action?.kind ?? k.key.split(':')[0]!;
    const duration = a.finishedAt === null ? '-' : secs(a.finishedAt - a.begunAt);
    return [{
      kind,
      cells: [step ? `${step.index + 1} (${step.from} -> ${step.to})` : String(k.step + 1), action ? describe(action) : k.key, a.node || '-', iso(a.begunAt), duration, a.outcome ?? 'open', actionDetail(kind, a.outcome, a.result)],
    }];
  });
}

/** "step/node" -> containers the inventory gate saw restarted or gone on the node's latest attempt (once looked at). */
export function nodeRestarts(actions: readonly ActionRecord[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const a of actions) {
    if (a.kind !== ACTION_KUBELET) continue;
    const step = num(parse(a.payload).step);
    const n = num(parse(a.result).restarted);
    if (step === undefined) continue;
    // Later attempts replace earlier ones; an attempt not yet looked at leaves no figure.
    if (n === undefined) out.delete(`${step}/${a.node}`);
    else out.set(`${step}/${a.node}`, n);
  }
  return out;
}

/** Per kubelet step: containers, restarted (latest attempt of each node, once looked at), the prediction. */
export function restartRows(spec: RunSpec, actions: readonly ActionRecord[]): string[][] {
  return spec.steps.map((s) => {
    const latest = new Map<string, ActionRecord>();
    for (const a of actions) {
      if (a.kind !== ACTION_KUBELET || num(parse(a.payload).step) !== s.index) continue;
      latest.set(a.node, a);
    }
    const seen = [...latest.values()].map((a) => num(parse(a.result).restarted)).filter((n): n is number => n !== undefined);
    const p = spec.predictedRestarts?.find((x) => x.step === s.index);
    const restarted = seen.length === 0 ? '-' : `${seen.reduce((x, y) => x + y, 0)}${seen.length < s.nodes.length ? ` (${seen.length} of ${s.nodes.length} nodes)` : ''}`;
    return [String(s.index + 1), `${s.nodes.map((n) => n.name).join(', ')} -> ${s.to}`, p ? String(p.containers) : '-', restarted, p ? String(p.wouldRestart) : '-'];
  });
}
