/**
 * The lab's kube-controller-manager reads the feature-gate defaults from lib/knowledge/gates (one
 * table for kip and the lab).
 * Flag defaults (kube-controller-manager --help, v1.10..v1.17): --node-monitor-period 5s,
 * --node-monitor-grace-period 40s, --node-startup-grace-period 1m0s, --pod-eviction-timeout 5m0s,
 * --node-eviction-rate 0.1, --secondary-node-eviction-rate 0.01, --unhealthy-zone-threshold 0.55,
 * --large-cluster-size-threshold 50, --enable-taint-manager true.
 * The taint manager (NoExecute evictions of any taint) runs whenever --enable-taint-manager is true
 * (default true since v1.6); TaintBasedEvictions only decides whether the node lifecycle controller adds
 * the not-ready/unreachable NoExecute taints or falls back to --pod-eviction-timeout
 * (node_lifecycle_controller.go: useTaintBasedEvictions = gate && runTaintManager).
 */
import { InvalidInputError } from '../../../lib/errors.ts';
import { defaultFeatureGates, type FeatureGates } from '../../../lib/knowledge/gates/index.ts';

export { defaultFeatureGates, type FeatureGates };

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
