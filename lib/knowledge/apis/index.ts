/**
 * API versions kube-apiserver stops serving, per minor: what a client (kubectl apply, a Helm chart,
 * an operator) that still writes them gets as 404 after the control-plane step. Pure data, each
 * entry cited from the changelog of the release that made the change.
 *
 * Objects already stored are not lost (etcd keeps one storage version per resource and the
 * apiserver serves them in the versions still served), but manifests and clients that name the
 * old group/version break.
 */
export interface ApiRemoval {
  /** group/version, e.g. `extensions/v1beta1` (the core group has no group part). */
  readonly groupVersion: string;
  /** Resources no longer served from that group/version; `*` for all of them. */
  readonly resources: readonly string[];
  /** First minor that does not serve them by default. */
  readonly stopsServingIn: string;
  /** What to use instead. */
  readonly replacement: string;
  /** The `--runtime-config` entry that keeps them served, when the release still allows it. */
  readonly runtimeConfig?: string;
  /** First minor in which even `--runtime-config` cannot serve them. */
  readonly removedIn?: string;
  readonly citation: { readonly changelog: string; readonly section: string; readonly pr: number; readonly removalPr?: number };
}

const C16 = { changelog: 'CHANGELOG/CHANGELOG-1.16.md', section: 'v1.16.0 › Deprecations and Removals', pr: 70672, removalPr: 85903 } as const;

/**
 * CHANGELOG-1.16.md (#70672, @liggitt): "The following APIs are no longer served by default: All
 * resources under apps/v1beta1 and apps/v1beta2 - use apps/v1 instead; daemonsets, deployments,
 * replicasets resources under extensions/v1beta1 - use apps/v1 instead; networkpolicies resources
 * under extensions/v1beta1 - use networking.k8s.io/v1 instead; podsecuritypolicies resources under
 * extensions/v1beta1 - use policy/v1beta1 instead. Serving these resources can be temporarily
 * re-enabled using the --runtime-config apiserver flag [...] The ability to serve these resources
 * will be completely removed in v1.18." CHANGELOG-1.18.md (#85903, @liggitt): "The following
 * deprecated APIs can no longer be served" (the same list).
 */
export const API_REMOVALS: readonly ApiRemoval[] = [
  { groupVersion: 'apps/v1beta1', resources: ['*'], stopsServingIn: '1.16', replacement: 'apps/v1', runtimeConfig: 'apps/v1beta1=true', removedIn: '1.18', citation: C16 },
  { groupVersion: 'apps/v1beta2', resources: ['*'], stopsServingIn: '1.16', replacement: 'apps/v1', runtimeConfig: 'apps/v1beta2=true', removedIn: '1.18', citation: C16 },
  ...(['daemonsets', 'deployments', 'replicasets'] as const).map((r): ApiRemoval => ({
    groupVersion: 'extensions/v1beta1', resources: [r], stopsServingIn: '1.16', replacement: 'apps/v1', runtimeConfig: `extensions/v1beta1/${r}=true`, removedIn: '1.18', citation: C16,
  })),
  { groupVersion: 'extensions/v1beta1', resources: ['networkpolicies'], stopsServingIn: '1.16', replacement: 'networking.k8s.io/v1', runtimeConfig: 'extensions/v1beta1/networkpolicies=true', removedIn: '1.18', citation: C16 },
  { groupVersion: 'extensions/v1beta1', resources: ['podsecuritypolicies'], stopsServingIn: '1.16', replacement: 'policy/v1beta1', runtimeConfig: 'extensions/v1beta1/podsecuritypolicies=true', removedIn: '1.18', citation: C16 },
];

const minorNumber = (m: string): number => Number(/^1\.(\d+)$/.exec(m)?.[1] ?? NaN);

/** Removals that take effect when kube-apiserver moves from minor `from` to minor `to` (numbers). */
export function apiRemovalsBetween(from: number, to: number): ApiRemoval[] {
  return API_REMOVALS.filter((r) => minorNumber(r.stopsServingIn) > from && minorNumber(r.stopsServingIn) <= to);
}

/** Removals in effect at minor `at` that `--runtime-config` can still undo there. */
export function runtimeConfigAt(at: number): string[] {
  return API_REMOVALS.filter((r) => r.runtimeConfig && minorNumber(r.stopsServingIn) <= at && (!r.removedIn || at < minorNumber(r.removedIn))).map((r) => r.runtimeConfig!);
}

export function formatApiCitation(r: ApiRemoval): string {
  return `${r.citation.changelog} (${r.citation.section}), kubernetes/kubernetes#${r.citation.pr}${r.removedIn && r.citation.removalPr ? `; no longer servable from ${r.removedIn}: CHANGELOG/CHANGELOG-${r.removedIn}.md, kubernetes/kubernetes#${r.citation.removalPr}` : ''}`;
}
