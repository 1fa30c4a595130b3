/**
 * The kube-apiserver instances of an HA control plane and their versions, and the version-skew
 * policy's rule for them: "In highly-available (HA) clusters, the newest and oldest kube-apiserver
 * instances must be within one minor version" (kubernetes.io/releases/version-skew-policy,
 * "Supported version skew", kube-apiserver). `/version` through the kubeconfig answers for one
 * instance only (whichever the load balancer picks), so each instance is asked at its own address.
 *
 * The addresses come from the Endpoints default/kubernetes: every apiserver writes its own
 * --advertise-address and --secure-port there (the endpoint reconciler, pkg/master/reconcilers in
 * 1.10: "All apiservers MUST use the same ports"). With the older master-count reconciler a
 * stopped apiserver's address may linger (kubernetes issue #22609), so an address that does not
 * answer is skipped, not an error.
 */
import { parseRealVersion, SkewPolicyError } from '../../lib/knowledge/version.ts';
import type { ClusterApi } from '../ports.ts';

export interface ApiserverInstance {
  /** https://ip:port */
  readonly address: string;
  readonly version: string;
}

/** The instances that answered /version at their own address; [] for one instance or none known. */
export async function apiserverInstances(cluster: Pick<ClusterApi, 'apiserverEndpoints' | 'apiserverStatus'>): Promise<ApiserverInstance[]> {
  if (!cluster.apiserverEndpoints) return [];
  let urls: string[];
  try {
    urls = await cluster.apiserverEndpoints();
  } catch {
    return [];
  }
  if (urls.length < 2) return [];
  const answered = await Promise.all(urls.map(async (address) => {
    try {
      const s = await cluster.apiserverStatus(address, '/version');
      return s.version ? { address, version: s.version } : undefined;
    } catch {
      return undefined;
    }
  }));
  return answered.filter((a): a is ApiserverInstance => a !== undefined);
}

/** SKEW_POLICY naming the oldest and newest instances when they are more than one minor apart. */
export function checkHaApiservers(instances: readonly ApiserverInstance[]): void {
  if (instances.length < 2) return;
  const parsed = instances.map((i) => ({ ...i, v: parseRealVersion(i.version, `the kube-apiserver version at ${i.address}`) }));
  const sorted = [...parsed].sort((a, b) => a.v.major - b.v.major || a.v.minor - b.v.minor);
  const oldest = sorted[0]!;
  const newest = sorted[sorted.length - 1]!;
  if (newest.v.major !== oldest.v.major || newest.v.minor - oldest.v.minor > 1) {
    throw new SkewPolicyError(
      `the HA kube-apiservers are more than one minor apart: ${oldest.address} runs ${oldest.version}, ${newest.address} runs ${newest.version}; the version-skew policy allows one (the newest and oldest kube-apiserver instances must be within one minor version): bring ${parsed.filter((p) => newest.v.minor - p.v.minor > 1).map((p) => p.address).join(', ')} up to ${newest.v.major}.${newest.v.minor - 1} or later first, then run kip again`,
      { rule: 'apiserver-ha-one-minor', oldest: { address: oldest.address, version: oldest.version }, newest: { address: newest.address, version: newest.version } },
    );
  }
}

/** Every version planVersions must see: the kubeconfig's /version and each instance's. */
export async function apiserverVersionsForPlan(cluster: Pick<ClusterApi, 'apiserverEndpoints' | 'apiserverStatus' | 'version'>): Promise<string[]> {
  const [own, instances] = await Promise.all([cluster.version(), apiserverInstances(cluster)]);
  checkHaApiservers(instances);
  return [own, ...instances.map((i) => i.version)];
}
