/**
 * Live objects behind the API versions a plan stops serving. etcd keeps one copy per object, so a
 * Deployment created as extensions/v1beta1 is also served as apps/v1 and survives the step; what
 * breaks is the client that still writes the old version. The one trace such a client leaves on a
 * cluster of this era is kubectl's `last-applied-configuration` annotation (managedFields only
 * appear in 1.18), so an object whose annotation names a removed group/version is the one whose
 * next `kubectl apply` fails with 404 after the step. Pure: the listing comes in through a port.
 */
import { apiRemovalsBetween, type ApiRemoval } from '../../lib/knowledge/apis/index.ts';
import { parseMinor } from '../../lib/knowledge/version.ts';

/** kubectl's annotation: the whole object as last applied, with its apiVersion. */
export const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

export interface LiveObject {
  readonly namespace: string;
  readonly name: string;
  /** apiVersion of the last `kubectl apply` (undefined when never applied or not parseable). */
  readonly appliedAs: string | undefined;
}

/** One resource as the apiserver serves it now under one group/version; undefined when it does not. */
export type ListServed = (groupVersion: string, resource: string) => Promise<readonly LiveObject[] | undefined>;

export interface RemovedApiObjects {
  readonly groupVersion: string;
  readonly resource: string;
  /** Objects of the resource stored today (every one keeps working under the replacement). */
  readonly total: number;
  /** Those last applied through the removed group/version: their manifests must move first. */
  readonly appliedWithRemoved: readonly string[];
  /** Where the objects were listed ("" when the resource is served by neither version). */
  readonly listedAs: string;
}

/** The resources a `*` removal covers, from each group/version's discovery in the releases concerned. */
const ALL_RESOURCES: Readonly<Record<string, readonly string[]>> = {
  // apps/v1beta1 served deployments, statefulsets and controllerrevisions; apps/v1beta2 also
  // daemonsets and replicasets (kubernetes/api apps/v1beta1 and apps/v1beta2 register.go, kubernetes-1.10.0).
  'apps/v1beta1': ['deployments', 'statefulsets', 'controllerrevisions'],
  'apps/v1beta2': ['deployments', 'statefulsets', 'daemonsets', 'replicasets', 'controllerrevisions'],
};

/** The removals that take effect on the way from the apiserver's version to the target. */
export function removalsOnPath(plan: { readonly apiserver: string; readonly target: string }): ApiRemoval[] {
  return apiRemovalsBetween(parseMinor(plan.apiserver).minor, parseMinor(plan.target).minor);
}

export function resourcesOf(r: ApiRemoval): readonly string[] {
  return r.resources.includes('*') ? ALL_RESOURCES[r.groupVersion] ?? [] : r.resources;
}

/** The annotation's apiVersion, or undefined (absent, not JSON, no apiVersion). */
export function appliedApiVersion(annotations: Readonly<Record<string, string>> | undefined): string | undefined {
  const text = annotations?.[LAST_APPLIED];
  if (!text) return undefined;
  try {
    const v = (JSON.parse(text) as { apiVersion?: unknown }).apiVersion;
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Per removed resource: how many objects exist and which were last applied through the removed
 * version. Listed through the removed version while it is still served, else through the
 * replacement (the same objects). A resource neither serves is reported with total 0 and no source.
 */
export async function findRemovedApiObjects(removals: readonly ApiRemoval[], list: ListServed): Promise<RemovedApiObjects[]> {
  const out: RemovedApiObjects[] = [];
  for (const r of removals) {
    for (const resource of resourcesOf(r)) {
      let listedAs = r.groupVersion;
      let items = await list(r.groupVersion, resource);
      if (items === undefined) {
        listedAs = r.replacement;
        items = await list(r.replacement, resource);
      }
      if (items === undefined) {
        out.push({ groupVersion: r.groupVersion, resource, total: 0, appliedWithRemoved: [], listedAs: '' });
        continue;
      }
      const applied = items.filter((o) => o.appliedAs === r.groupVersion).map((o) => `${o.namespace}/${o.name}`).sort();
      out.push({ groupVersion: r.groupVersion, resource, total: items.length, appliedWithRemoved: applied, listedAs });
    }
  }
  return out;
}
