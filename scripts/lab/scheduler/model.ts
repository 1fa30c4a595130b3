/**
 * The small, plain view of Nodes and Pods that the lab scheduler's and controller-manager's pure logic
 * works on (times as epoch milliseconds), and the conversions from @kubernetes/client-node's typed
 * objects. Taint/toleration matching follows the documented semantics of core/v1 Toleration
 * (k8s.io/api core/v1 types.go: "Exists" matches any value; an empty key with Exists matches every
 * taint; an empty effect matches every effect) — written here, not copied.
 */
import type { V1Node, V1Pod } from '@kubernetes/client-node';

export type TaintEffect = 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Taint {
  readonly key: string;
  readonly value?: string;
  readonly effect: TaintEffect;
  /** Set on NoExecute taints the node lifecycle controller adds. */
  readonly timeAddedMs?: number;
}

export interface Toleration {
  readonly key?: string;
  readonly operator?: 'Exists' | 'Equal';
  readonly value?: string;
  readonly effect?: TaintEffect;
  readonly tolerationSeconds?: number;
}

export interface NodeCondition {
  readonly type: string;
  readonly status: ConditionStatus;
  readonly reason?: string;
  readonly message?: string;
  readonly lastHeartbeatMs?: number;
  readonly lastTransitionMs?: number;
}

export interface NodeView {
  readonly name: string;
  readonly uid: string;
  readonly resourceVersion: string;
  readonly creationMs: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly unschedulable: boolean;
  readonly taints: readonly Taint[];
  readonly conditions: readonly NodeCondition[];
}

export interface PodView {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly nodeName: string;
  readonly schedulerName: string;
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly tolerations: readonly Toleration[];
  readonly phase: string;
  readonly creationMs: number;
  readonly deleting: boolean;
  readonly ownerKinds: readonly string[];
  /** status.conditions type -> status, e.g. Ready, PodScheduled. */
  readonly conditions: Readonly<Record<string, { status: string; reason?: string; message?: string }>>;
}

export function podKey(p: { namespace: string; name: string }): string {
  return `${p.namespace}/${p.name}`;
}

export function condition(node: NodeView, type: string): NodeCondition | undefined {
  return node.conditions.find((c) => c.type === type);
}

export function isNodeReady(node: NodeView): boolean {
  return condition(node, 'Ready')?.status === 'True';
}

export function isTerminal(pod: PodView): boolean {
  return pod.phase === 'Succeeded' || pod.phase === 'Failed';
}

/** Whether one toleration tolerates one taint. */
export function toleratesTaint(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  const op = t.operator ?? 'Equal';
  if (!t.key) return op === 'Exists';
  if (t.key !== taint.key) return false;
  if (op === 'Exists') return true;
  return (t.value ?? '') === (taint.value ?? '');
}

/** The tolerations that tolerate `taint`. */
export function tolerationsFor(tolerations: readonly Toleration[], taint: Taint): Toleration[] {
  return tolerations.filter((t) => toleratesTaint(t, taint));
}

export function taintString(t: Taint): string {
  return `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`;
}

function ms(v: Date | string | undefined): number | undefined {
  if (v === undefined || v === null) return undefined;
  const n = v instanceof Date ? v.getTime() : Date.parse(v);
  return Number.isFinite(n) ? n : undefined;
}

const EFFECTS = new Set<string>(['NoSchedule', 'PreferNoSchedule', 'NoExecute']);
const STATUSES = new Set<string>(['True', 'False', 'Unknown']);

export function nodeView(n: V1Node): NodeView {
  return {
    name: n.metadata?.name ?? '',
    uid: n.metadata?.uid ?? '',
    resourceVersion: n.metadata?.resourceVersion ?? '',
    creationMs: ms(n.metadata?.creationTimestamp) ?? 0,
    labels: { ...(n.metadata?.labels ?? {}) },
    unschedulable: n.spec?.unschedulable === true,
    taints: (n.spec?.taints ?? [])
      .filter((t) => EFFECTS.has(t.effect))
      .map((t) => {
        const out: { key: string; value?: string; effect: TaintEffect; timeAddedMs?: number } = { key: t.key, effect: t.effect as TaintEffect };
        if (t.value) out.value = t.value;
        const added = ms(t.timeAdded);
        if (added !== undefined) out.timeAddedMs = added;
        return out;
      }),
    conditions: (n.status?.conditions ?? []).map((c) => ({
      type: c.type,
      status: (STATUSES.has(c.status) ? c.status : 'Unknown') as ConditionStatus,
      reason: c.reason,
      message: c.message,
      lastHeartbeatMs: ms(c.lastHeartbeatTime),
      lastTransitionMs: ms(c.lastTransitionTime),
    })),
  };
}

export function podView(p: V1Pod): PodView {
  const conditions: Record<string, { status: string; reason?: string; message?: string }> = {};
  for (const c of p.status?.conditions ?? []) conditions[c.type] = { status: c.status, reason: c.reason, message: c.message };
  return {
    namespace: p.metadata?.namespace ?? 'default',
    name: p.metadata?.name ?? '',
    uid: p.metadata?.uid ?? '',
    nodeName: p.spec?.nodeName ?? '',
    schedulerName: p.spec?.schedulerName ?? '',
    nodeSelector: { ...(p.spec?.nodeSelector ?? {}) },
    tolerations: (p.spec?.tolerations ?? []).map((t) => {
      const out: { key?: string; operator?: 'Exists' | 'Equal'; value?: string; effect?: TaintEffect; tolerationSeconds?: number } = {};
      if (t.key) out.key = t.key;
      if (t.operator === 'Exists' || t.operator === 'Equal') out.operator = t.operator;
      if (t.value) out.value = t.value;
      if (t.effect && EFFECTS.has(t.effect)) out.effect = t.effect as TaintEffect;
      if (typeof t.tolerationSeconds === 'number') out.tolerationSeconds = t.tolerationSeconds;
      return out;
    }),
    phase: p.status?.phase ?? 'Pending',
    creationMs: ms(p.metadata?.creationTimestamp) ?? 0,
    deleting: p.metadata?.deletionTimestamp !== undefined && p.metadata?.deletionTimestamp !== null,
    ownerKinds: (p.metadata?.ownerReferences ?? []).map((o) => o.kind),
    conditions,
  };
}
