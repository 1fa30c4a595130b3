/**
 * Feature-gate defaults that change behaviour under the user across the versions kip upgrades
 * through. Pure data with a cited source per gate.
 *
 * - TaintBasedEvictions: alpha (default off) v1.6..v1.12, beta (default ON) v1.13..v1.17, GA v1.18.
 *   Sources: kubernetes/kubernetes#69533 ("promote TaintBasedEvictions to beta in 1.13", PR #69824
 *   in pkg/features/kube_features.go), CHANGELOG-1.13, the feature-gate table in kubernetes/website
 *   (feature-gates/taint-based-evictions.md: alpha 1.6-1.12 false, beta 1.13-1.17 true) and
 *   KEP "Promote Taint Based Evictions to GA" ("promoted to beta in 1.13").
 * - TaintNodesByCondition: alpha v1.8, beta (default ON) v1.12, GA v1.17 (KEP "Graduate
 *   TaintNodeByCondition to GA", sig-scheduling; CHANGELOG-1.12).
 */
export interface FeatureGates {
  readonly TaintBasedEvictions: boolean;
  readonly TaintNodesByCondition: boolean;
}

export type GateName = keyof FeatureGates;

export function defaultFeatureGates(minor: number): FeatureGates {
  return { TaintBasedEvictions: minor >= 13, TaintNodesByCondition: minor >= 12 };
}

export interface GateChange {
  readonly gate: GateName;
  /** The minor from which the default is `to`. */
  readonly since: number;
  readonly to: boolean;
  readonly component: 'kube-controller-manager' | 'kube-scheduler' | 'kubelet';
  /** What the user sees change. */
  readonly effect: string;
  readonly source: string;
}

export const GATE_CHANGES: readonly GateChange[] = [
  {
    gate: 'TaintNodesByCondition',
    since: 12,
    to: true,
    component: 'kube-controller-manager',
    effect: 'node conditions become NoSchedule taints (node.kubernetes.io/not-ready, memory-pressure, ...); pods without matching tolerations are no longer scheduled to such nodes',
    source: 'CHANGELOG-1.12.md (TaintNodesByCondition to beta); KEP "Graduate TaintNodeByCondition to GA"',
  },
  {
    gate: 'TaintBasedEvictions',
    since: 13,
    to: true,
    component: 'kube-controller-manager',
    effect: 'a NotReady/unreachable node gets NoExecute taints: pods without not-ready/unreachable tolerationSeconds are evicted at once instead of after --pod-eviction-timeout',
    source: 'CHANGELOG-1.13.md, kubernetes/kubernetes#69824 (promote TaintBasedEvictions to beta, default on)',
  },
];

/** Default changes that take effect when the control plane moves from minor `from` to minor `to`. */
export function gateChangesBetween(from: number, to: number): GateChange[] {
  return GATE_CHANGES.filter((g) => g.since > from && g.since <= to);
}
