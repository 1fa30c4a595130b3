/**
 * Per-version facts of kube-controller-manager v1.10..v1.17 that the node lifecycle controller depends on.
 *
 * - TaintBasedEvictions: alpha (default off) v1.6..v1.12, beta (default ON) v1.13..v1.17, GA v1.18.
 *   Sources: kubernetes/kubernetes#69533 ("promote TaintBasedEvictions to beta in 1.13", PR #69824
 *   in pkg/features/kube_features.go), CHANGELOG-1.13, the feature-gate table in kubernetes/website
 *   (feature-gates/taint-based-evictions.md: alpha 1.6-1.12 false, beta 1.13-1.17 true) and
 *   KEP "Promote Taint Based Evictions to GA" ("promoted to beta in 1.13").
 * - TaintNodesByCondition: alpha v1.8, beta (default ON) v1.12, GA v1.17 (KEP "Graduate
 *   TaintNodeByCondition to GA", sig-scheduling; CHANGELOG-1.12).
 * - The taint manager (NoExecute evictions of any taint) runs whenever --enable-taint-manager is true
 *   (default true since v1.6); the gate above only decides whether the node lifecycle controller adds
 *   the not-ready/unreachable NoExecute taints or falls back to --pod-eviction-timeout
 *   (node_lifecycle_controller.go: useTaintBasedEvictions = gate && runTaintManager).
 * Flag defaults (kube-controller-manager --help, v1.10..v1.17): --node-monitor-period 5s,
 * --node-monitor-grace-period 40s, --node-startup-grace-period 1m0s, --pod-eviction-timeout 5m0s,
 * --node-eviction-rate 0.1, --secondary-node-eviction-rate 0.01, --unhealthy-zone-threshold 0.55,
 * --large-cluster-size-threshold 50, --enable-taint-manager true.
 */
import { InvalidInputError } from '../../../lib/errors.ts';

export interface FeatureGates {
  readonly TaintBasedEvictions: boolean;
  readonly TaintNodesByCondition: boolean;
}

export function defaultFeatureGates(minor: number): FeatureGates {
  return { TaintBasedEvictions: minor >= 13, TaintNodesByCondition: minor >= 12 };
}

const KNOWN = new Set<keyof FeatureGates>(['TaintBasedEvictions', 'TaintNodesByCondition']);

/**
 * Applies `--feature-gates=A=true,B=false` over the version's defaults. Gates this lab does not model
 * are accepted and ignored (the real binary accepts every gate it knows); a malformed entry is an error.
 */
export function applyFeatureGates(defaults: FeatureGates, text: string | undefined): FeatureGates {
  const out: { -readonly [K in keyof FeatureGates]: boolean } = { ...defaults };
  if (!text) return out;
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([A-Za-z0-9]+)=(true|false)$/.exec(part);
    if (!m) throw new InvalidInputError('LAB_BAD_FEATURE_GATE', `--feature-gates: invalid entry "${part}" (want Name=true|false)`, { part });
    const name = m[1] as keyof FeatureGates;
    if (KNOWN.has(name)) out[name] = m[2] === 'true';
  }
  return out;
}
