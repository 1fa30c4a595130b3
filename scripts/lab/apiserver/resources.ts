/**
 * The resources the lab apiserver serves, and which Kubernetes minor version serves which API
 * group/version. Version facts, with sources:
 * - apps/v1 (deployments, daemonsets, statefulsets) is served from v1.9 (kubernetes.io blog
 *   "Deprecated APIs Removed In 1.16", 2019-07-18: "apps/v1 API version, available since v1.9").
 * - extensions/v1beta1 deployments and daemonsets stop being served by default in v1.16
 *   (CHANGELOG-1.16.md, "Deprecations and Removals": "daemonsets, deployments, replicasets resources
 *   under extensions/v1beta1 - use apps/v1 instead").
 * - coordination.k8s.io/v1beta1 leases first ship in v1.12 and coordination.k8s.io/v1 in v1.14
 *   (kubernetes/api tags: coordination/v1beta1 exists from kubernetes-1.12.0, absent in
 *   kubernetes-1.11.0; coordination/v1 exists from kubernetes-1.14.0).
 * Storage keys follow the real apiserver's etcd layout (/registry/<resource>/<ns>/<name>, nodes under
 * "minions"); the lab stores JSON, not protobuf. One storage key serves every group/version of a
 * resource (extensions/v1beta1 and apps/v1 deployments are the same objects).
 */
import { InvalidInputError } from '../../../lib/errors.ts';

export interface ResourceDef {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly singular: string;
  readonly kind: string;
  readonly namespaced: boolean;
  readonly shortNames: readonly string[];
  readonly categories: readonly string[];
  readonly subresources: readonly ('status' | 'binding' | 'eviction')[];
  readonly storage: string;
  /** Field-selector labels supported besides metadata.name and metadata.namespace. */
  readonly fields: readonly string[];
  /** First minor version that serves it (inclusive). */
  readonly fromMinor: number;
  /** First minor version that no longer serves it (exclusive); undefined = still served in 1.17. */
  readonly untilMinor?: number;
}

const POD_FIELDS = ['spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'status.phase', 'status.podIP', 'status.nominatedNodeName'];
const EVENT_FIELDS = ['involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid', 'involvedObject.apiVersion',
  'involvedObject.resourceVersion', 'involvedObject.fieldPath', 'reason', 'source', 'type'];

function def(d: Omit<ResourceDef, 'shortNames' | 'categories' | 'subresources' | 'fields' | 'fromMinor'> & Partial<ResourceDef>): ResourceDef {
  return { shortNames: [], categories: [], subresources: [], fields: [], fromMinor: 0, ...d };
}

export const RESOURCES: readonly ResourceDef[] = [
  def({ group: '', version: 'v1', plural: 'namespaces', singular: 'namespace', kind: 'Namespace', namespaced: false, shortNames: ['ns'], subresources: ['status'], storage: 'namespaces', fields: ['status.phase'] }),
  def({ group: '', version: 'v1', plural: 'nodes', singular: 'node', kind: 'Node', namespaced: false, shortNames: ['no'], subresources: ['status'], storage: 'minions', fields: ['spec.unschedulable'] }),
  def({ group: '', version: 'v1', plural: 'pods', singular: 'pod', kind: 'Pod', namespaced: true, shortNames: ['po'], categories: ['all'], subresources: ['status', 'binding', 'eviction'], storage: 'pods', fields: POD_FIELDS }),
  def({ group: '', version: 'v1', plural: 'events', singular: 'event', kind: 'Event', namespaced: true, shortNames: ['ev'], storage: 'events', fields: EVENT_FIELDS }),
  def({ group: 'coordination.k8s.io', version: 'v1beta1', plural: 'leases', singular: 'lease', kind: 'Lease', namespaced: true, storage: 'leases', fromMinor: 12 }),
  def({ group: 'coordination.k8s.io', version: 'v1', plural: 'leases', singular: 'lease', kind: 'Lease', namespaced: true, storage: 'leases', fromMinor: 14 }),
  def({ group: 'apps', version: 'v1', plural: 'deployments', singular: 'deployment', kind: 'Deployment', namespaced: true, shortNames: ['deploy'], categories: ['all'], subresources: ['status'], storage: 'deployments' }),
  def({ group: 'apps', version: 'v1', plural: 'daemonsets', singular: 'daemonset', kind: 'DaemonSet', namespaced: true, shortNames: ['ds'], categories: ['all'], subresources: ['status'], storage: 'daemonsets' }),
  def({ group: 'apps', version: 'v1', plural: 'statefulsets', singular: 'statefulset', kind: 'StatefulSet', namespaced: true, shortNames: ['sts'], categories: ['all'], subresources: ['status'], storage: 'statefulsets' }),
  def({ group: 'extensions', version: 'v1beta1', plural: 'deployments', singular: 'deployment', kind: 'Deployment', namespaced: true, shortNames: ['deploy'], categories: ['all'], subresources: ['status'], storage: 'deployments', untilMinor: 16 }),
  def({ group: 'extensions', version: 'v1beta1', plural: 'daemonsets', singular: 'daemonset', kind: 'DaemonSet', namespaced: true, shortNames: ['ds'], categories: ['all'], subresources: ['status'], storage: 'daemonsets', untilMinor: 16 }),
];

export interface ServerVersion {
  readonly gitVersion: string;
  readonly major: number;
  readonly minor: number;
}

export function parseGitVersion(gitVersion: string): ServerVersion {
  const m = /^v(\d+)\.(\d+)\.(\d+)([-+].*)?$/.exec(gitVersion);
  if (!m) throw new InvalidInputError('LAB_BAD_VERSION', `not a Kubernetes gitVersion: ${gitVersion}`, { gitVersion });
  return { gitVersion, major: Number(m[1]), minor: Number(m[2]) };
}

export function servedResources(minor: number): ResourceDef[] {
  return RESOURCES.filter((r) => minor >= r.fromMinor && (r.untilMinor === undefined || minor < r.untilMinor));
}

export function apiVersionOf(r: ResourceDef): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

export interface GroupInfo {
  readonly name: string;
  readonly versions: readonly string[];
  readonly preferred: string;
}

/** Named groups (not the core group), in discovery order; the preferred version is the most stable served. */
export function servedGroups(minor: number): GroupInfo[] {
  const order = ['v1', 'v1beta2', 'v1beta1'];
  const byGroup = new Map<string, Set<string>>();
  for (const r of servedResources(minor)) {
    if (!r.group) continue;
    const set = byGroup.get(r.group) ?? new Set<string>();
    set.add(r.version);
    byGroup.set(r.group, set);
  }
  return [...byGroup.entries()].map(([name, set]) => {
    const versions = [...set].sort((a, b) => order.indexOf(a) - order.indexOf(b));
    return { name, versions, preferred: versions[0] ?? 'v1' };
  });
}
