/**
 * The kubelet's pod admission on (re)start, per version: every pod bound to the node goes through
 * the predicate admit handler (pkg/kubelet/lifecycle/predicate.go, predicateAdmitHandler.Admit)
 * in creation order (HandlePodAdditions sorts by creation time), each judged against the pods
 * admitted before it. A rejected pod's containers are killed and it is marked Failed with the
 * reason of the FIRST failed predicate.
 *
 * Admit: node plugin resources updated, then removeMissingExtendedResources (an extended
 * resource the node's allocatable does not name at all is dropped from the pod's requests; one
 * the node names with 0, e.g. a device-plugin resource before its plugin re-registers, stays and
 * fails), then GeneralPredicates. Reason: PredicateFailureError -> its PredicateName;
 * InsufficientResourceError -> "OutOf" + resource name ("OutOfcpu", "OutOfnvidia.com/gpu");
 * status message "Pod " + error text.
 *
 * GeneralPredicates by version:
 * - 1.10-1.17: pkg/scheduler/algorithm/predicates/predicates.go GeneralPredicates =
 *   noncriticalPredicates (PodFitsResources) then EssentialPredicates (PodFitsHost "HostName",
 *   PodFitsHostPorts "PodFitsHostPorts", PodMatchNodeSelector "MatchNodeSelector" — which covers
 *   nodeSelector AND required node affinity, podMatchesNodeSelectorAndAffinityTerms).
 * - 1.18+: pkg/kubelet/lifecycle/predicate.go's own GeneralPredicates over the scheduler
 *   framework plugins: noderesources.Fits, then "NodeAffinity" (nodeSelector and required
 *   affinity), "NodeName", "NodePorts".
 * PodFitsResources (both): pod count against allocatable pods ("OutOfpods"); then, unless the pod
 * requests nothing, cpu (milli), memory, ephemeral-storage, then each scalar resource (extended,
 * hugepages-*) against allocatable minus what admitted pods request. The pod's request is the sum
 * of its containers' requests, raised to any init container's (GetResourceRequest); an admitted
 * pod counts its containers' requests (NodeInfo calculateResource).
 * Not modelled: the critical-pod admission failure handler (1.10-1.16 could evict others for a
 * critical pod short of resources), OS/arch label checks (1.24+), pod overhead (1.16+ gate off).
 */
import { milliValue, value } from './quantity.ts';

export interface AdmissionContainer {
  readonly resources?: { readonly requests?: Readonly<Record<string, string>> };
  readonly ports?: readonly { readonly containerPort?: number; readonly hostPort?: number; readonly protocol?: string; readonly hostIP?: string }[];
}

export interface NodeSelectorRequirement {
  readonly key: string;
  readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt' | string;
  readonly values?: readonly string[];
}

export interface AdmissionPod {
  readonly metadata: { readonly name: string; readonly namespace: string; readonly creationTimestamp?: string };
  readonly spec: {
    readonly nodeName?: string;
    readonly nodeSelector?: Readonly<Record<string, string>>;
    readonly affinity?: { readonly nodeAffinity?: { readonly requiredDuringSchedulingIgnoredDuringExecution?: { readonly nodeSelectorTerms?: readonly { readonly matchExpressions?: readonly NodeSelectorRequirement[]; readonly matchFields?: readonly NodeSelectorRequirement[] }[] } } };
    readonly containers: readonly AdmissionContainer[];
    readonly initContainers?: readonly AdmissionContainer[];
  };
}

export interface AdmissionNode {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** As the kubelet sees it now (device-plugin resources read 0 until the plugin registers). */
  readonly allocatable: Readonly<Record<string, string>>;
}

export type AdmitResult =
  | { readonly admitted: true }
  | { readonly admitted: false; readonly reason: string; readonly message: string };

const minorOf = (version: string): number => Number(/^v?1\.(\d+)/.exec(version)?.[1] ?? NaN);

/** v1helper.IsExtendedResourceName: has a domain, not kubernetes.io, not requests.*. */
export function isExtendedResource(name: string): boolean {
  if (!name.includes('/') || name.startsWith('requests.')) return false;
  const domain = name.split('/')[0]!;
  return domain !== 'kubernetes.io' && !domain.endsWith('.kubernetes.io');
}

const isScalar = (name: string): boolean => isExtendedResource(name) || name.startsWith('hugepages-') || name.startsWith('attachable-volumes-');

type Resources = Map<string, bigint>;

/** In the units the predicate compares: cpu in milli, everything else in whole units. */
function amount(name: string, quantity: string): bigint {
  return name === 'cpu' ? milliValue(quantity) : value(quantity);
}

function addRequests(into: Resources, requests: Readonly<Record<string, string>> | undefined): void {
  for (const [name, q] of Object.entries(requests ?? {})) {
    if (name === 'pods') continue;
    into.set(name, (into.get(name) ?? 0n) + amount(name, q));
  }
}

/** GetResourceRequest: sum of containers, raised to each init container's request. */
export function podRequest(pod: AdmissionPod): Resources {
  const sum: Resources = new Map();
  for (const c of pod.spec.containers) addRequests(sum, c.resources?.requests);
  for (const c of pod.spec.initContainers ?? []) {
    for (const [name, q] of Object.entries(c.resources?.requests ?? {})) {
      if (name === 'pods') continue;
      const v = amount(name, q);
      if (v > (sum.get(name) ?? 0n)) sum.set(name, v);
    }
  }
  return sum;
}

function admittedRequest(pods: readonly AdmissionPod[]): Resources {
  const used: Resources = new Map();
  for (const p of pods) for (const c of p.spec.containers) addRequests(used, c.resources?.requests);
  return used;
}

interface Failure {
  readonly reason: string;
  readonly message: string;
}

function insufficient(resource: string, requested: bigint, used: bigint, capacity: bigint): Failure {
  return { reason: `OutOf${resource}`, message: `Node didn't have enough resource: ${resource}, requested: ${requested}, used: ${used}, capacity: ${capacity}` };
}

function fitsResources(pod: AdmissionPod, node: AdmissionNode, admitted: readonly AdmissionPod[]): Failure[] {
  const out: Failure[] = [];
  const allowedPods = node.allocatable.pods !== undefined ? value(node.allocatable.pods) : 0n;
  if (BigInt(admitted.length) + 1n > allowedPods) out.push(insufficient('pods', 1n, BigInt(admitted.length), allowedPods));
  // removeMissingExtendedResources
  const request = podRequest(pod);
  for (const name of [...request.keys()]) if (isExtendedResource(name) && node.allocatable[name] === undefined) request.delete(name);
  if ([...request.values()].every((v) => v === 0n)) return out;
  const used = admittedRequest(admitted);
  const cap = (name: string): bigint => (node.allocatable[name] !== undefined ? amount(name, node.allocatable[name]!) : 0n);
  for (const name of ['cpu', 'memory', 'ephemeral-storage']) {
    const want = request.get(name) ?? 0n;
    if (want > 0n && cap(name) < want + (used.get(name) ?? 0n)) out.push(insufficient(name, want, used.get(name) ?? 0n, cap(name)));
  }
  for (const name of [...request.keys()].filter(isScalar).sort()) {
    const want = request.get(name)!;
    if (cap(name) < want + (used.get(name) ?? 0n)) out.push(insufficient(name, want, used.get(name) ?? 0n, cap(name)));
  }
  return out;
}

/** labels.Selector semantics of one NodeSelectorRequirement (NodeSelectorRequirementsAsSelector). */
function requirementMatches(r: NodeSelectorRequirement, labels: Readonly<Record<string, string>>): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, r.key);
  const v = labels[r.key];
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In': return has && values.includes(v!);
    case 'NotIn': return !has || !values.includes(v!);
    case 'Exists': return has;
    case 'DoesNotExist': return !has;
    case 'Gt':
    case 'Lt': {
      if (!has || values.length !== 1 || !/^-?\d+$/.test(v!) || !/^-?\d+$/.test(values[0]!)) return false;
      return r.operator === 'Gt' ? BigInt(v!) > BigInt(values[0]!) : BigInt(v!) < BigInt(values[0]!);
    }
    default: return false;
  }
}

/** podMatchesNodeSelectorAndAffinityTerms: nodeSelector AND (any term of required affinity). */
export function matchesSelectorAndAffinity(pod: AdmissionPod, node: AdmissionNode, minor: number): boolean {
  for (const [k, v] of Object.entries(pod.spec.nodeSelector ?? {})) if (node.labels[k] !== v) return false;
  const required = pod.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (!required) return true;
  return (required.nodeSelectorTerms ?? []).some((term) => {
    const exprs = term.matchExpressions ?? [];
    // matchFields (metadata.name only) is a field of the 1.11+ API (NodeSelectorTerm.MatchFields); 1.10 has none.
    const fields = minor >= 11 ? term.matchFields ?? [] : [];
    if (exprs.length === 0 && fields.length === 0) return false;
    return exprs.every((r) => requirementMatches(r, node.labels)) && fields.every((r) => r.key === 'metadata.name' && requirementMatches({ ...r, key: 'metadata.name' }, { 'metadata.name': node.name }));
  });
}

function hostPorts(pods: readonly AdmissionPod[]): { ip: string; protocol: string; port: number }[] {
  return pods.flatMap((p) => p.spec.containers.flatMap((c) => (c.ports ?? [])
    .filter((x) => (x.hostPort ?? 0) > 0)
    .map((x) => ({ ip: x.hostIP || '0.0.0.0', protocol: x.protocol || 'TCP', port: x.hostPort! }))));
}

function fitsHostPorts(pod: AdmissionPod, admitted: readonly AdmissionPod[]): boolean {
  const used = hostPorts(admitted);
  return hostPorts([pod]).every((want) => !used.some((u) => u.port === want.port && u.protocol === want.protocol && (u.ip === want.ip || u.ip === '0.0.0.0' || want.ip === '0.0.0.0')));
}

/** One pod against the node and the pods admitted before it; the first failure decides. */
export function admitPod(kubeletVersion: string, pod: AdmissionPod, node: AdmissionNode, admitted: readonly AdmissionPod[]): AdmitResult {
  const minor = minorOf(kubeletVersion);
  const framework = minor >= 18;
  const failures: Failure[] = [...fitsResources(pod, node, admitted)];
  const predicate = (name: string): Failure => ({ reason: name, message: `Predicate ${name} failed` });
  const selectorOk = matchesSelectorAndAffinity(pod, node, minor);
  const hostOk = !pod.spec.nodeName || pod.spec.nodeName === node.name;
  const portsOk = fitsHostPorts(pod, admitted);
  if (framework) {
    if (!selectorOk) failures.push(predicate('NodeAffinity'));
    if (!hostOk) failures.push(predicate('NodeName'));
    if (!portsOk) failures.push(predicate('NodePorts'));
  } else {
    if (!hostOk) failures.push(predicate('HostName'));
    if (!portsOk) failures.push(predicate('PodFitsHostPorts'));
    if (!selectorOk) failures.push(predicate('MatchNodeSelector'));
  }
  const first = failures[0];
  return first ? { admitted: false, reason: first.reason, message: `Pod ${first.message}` } : { admitted: true };
}

/** HandlePodAdditions' order: oldest first (creation time, then name as the tie-break here). */
export function admissionOrder<T extends AdmissionPod>(pods: readonly T[]): T[] {
  return [...pods].sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') || a.metadata.name.localeCompare(b.metadata.name));
}
