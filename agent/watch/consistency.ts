/**
 * The hash-consistency check behind the skip file's removal: does every running container on
 * this node carry, in its io.kubernetes.container.hash label, the hash the running kubelet
 * version computes for its spec? Only then may the skip file go: a patched kubelet that starts
 * without it compares every hash again.
 *
 * The check is a join of both sides (issue 8, defect 1): every container the API reports running
 * on the node (status.containerStatuses and status.initContainerStatuses) must be found running in
 * the runtime, and every running Kubernetes container of the runtime must be one of the API's.
 * An empty or partial runtime view (a CRI endpoint that is not the kubelet's runtime answers `[]`)
 * is therefore never "consistent", and zero containers compared is never a pass.
 * Pure: pods and containers come in as data.
 */
import { hot } from '../../lib/optimizer.ts';
import {
  collectContainers,
  decodeAt,
  hashEngine,
  hashLabel,
  objectField,
  stringField,
  type JsonNode,
} from '../../lib/knowledge/hash/index.ts';
import { KubeAnnotation, KubeLabel } from '../runtime/kube-labels.ts';
import type { ContainerInfo } from '../runtime/types.ts';
import { podRuntimeUid, runningStatuses, type RunningStatus } from './pod-view.ts';
import type { HashMemo } from './hash-memo.ts';

export interface StaleContainer {
  readonly pod: string;
  readonly container: string;
  readonly containerId: string;
  /** The hash label the container was created with. */
  readonly label: string;
  /** The hash the running kubelet computes for the current spec. */
  readonly expected: string;
  readonly init: boolean;
}

export interface ContainerMention {
  readonly containerId: string;
  readonly pod: string;
  readonly container: string;
}

export type ConsistencyProblemKind = 'nothing-compared' | 'stale' | 'unknown' | 'missing' | 'undecodable';

export interface ConsistencyProblem {
  readonly kind: ConsistencyProblemKind;
  readonly message: string;
}

export interface ConsistencyReport {
  readonly kubeletVersion: string;
  /** Running Kubernetes containers the runtime reported. */
  readonly running: number;
  /** Running containers the API reports for the node. */
  readonly apiRunning: number;
  /**
   * Containers found on both sides (same id, pod uid and name) whose hash was compared. `stale`
   * also lists containers whose spec is known but whose API status lags (they are in `unknown` too).
   */
  readonly compared: number;
  readonly consistent: number;
  readonly stale: readonly StaleContainer[];
  /** Running in the runtime, but not a running container of any pod the API lists for the node. */
  readonly unknown: readonly ContainerMention[];
  /** Running according to the API, but not running in the runtime (partial or wrong runtime view). */
  readonly missing: readonly ContainerMention[];
  /** Specs kip could not hash (decode errors): their containers cannot be proved consistent. */
  readonly undecodable: readonly { readonly pod: string; readonly container: string; readonly error: string }[];
  /** Why the report is not a pass, one entry per kind; empty exactly when allConsistent. */
  readonly problems: readonly ConsistencyProblem[];
  readonly allConsistent: boolean;
}

/** "containerd://abc" / "docker://abc" -> "abc" (the API's containerID carries the runtime scheme). */
export function stripRuntimeScheme(containerId: string): string {
  const i = containerId.indexOf('://');
  return i >= 0 ? containerId.slice(i + 3) : containerId;
}

interface Spec {
  readonly pod: string;
  readonly hash: string | undefined;
  readonly error: string | undefined;
  readonly init: boolean;
}

function hashSpecs(podList: JsonNode, kubeletVersion: string, memo?: HashMemo): { version: string; specs: Map<string, Spec>; statuses: RunningStatus[] } {
  const engine = hashEngine(kubeletVersion);
  const uidByApiUid = new Map<string, string>();
  const statuses: RunningStatus[] = [];
  const items = objectField(podList, 'items');
  const pods = items?.kind === 'array' ? items.items : podList.kind === 'array' ? podList.items : [podList];
  for (const pod of pods) {
    const meta = objectField(pod, 'metadata');
    const apiUid = stringField(meta, 'uid');
    if (apiUid !== undefined) uidByApiUid.set(apiUid, podRuntimeUid(pod) ?? apiUid);
    statuses.push(...runningStatuses(pod));
  }
  const specs = new Map<string, Spec>();
  for (const ref of collectContainers(podList)) {
    if (ref.podUid === null) continue;
    const uid = uidByApiUid.get(ref.podUid) ?? ref.podUid;
    let hash: string | undefined;
    let error: string | undefined;
    try {
      const compute = () => [{ kubeVersion: engine.kubeVersion, hash: hashLabel(engine.hashDecoded(decodeAt(engine, ref))) }];
      hash = (memo ? memo.hashes(ref.node.raw, [engine.kubeVersion], compute) : compute())[0]?.hash;
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    specs.set(`${uid}/${ref.container}`, { pod: ref.pod ?? '', hash, error, init: ref.init });
  }
  memo?.endPass();
  return { version: engine.kubeVersion, specs, statuses };
}

/** The hash label of a container as the kubelet wrote it (CRI annotation; dockershim label). */
export function containerHashLabel(c: ContainerInfo): string {
  return c.annotations[KubeAnnotation.containerHash] ?? c.labels[KubeAnnotation.containerHash] ?? '';
}

/** A container the kubelet created (it carries the pod uid label); others are not kip's concern. */
export function isKubernetesContainer(c: ContainerInfo): boolean {
  return (c.labels[KubeLabel.podUid] ?? '') !== '';
}

/**
 * podList: the API's PodList (raw JSON, as served) of the pods bound to this node.
 * containers: the runtime's containers (any state; only running ones count).
 */
export function checkConsistency(podList: JsonNode, containers: readonly ContainerInfo[], kubeletVersion: string, memo?: HashMemo): ConsistencyReport {
  // The pass's hashing with TurboFan on (lib/optimizer.ts): the agent runs without it at idle.
  const { version, specs, statuses } = hot(() => hashSpecs(podList, kubeletVersion, memo));
  const runtimeRunning = containers.filter((c) => c.state === 'running' && isKubernetesContainer(c));
  const runtimeById = new Map(runtimeRunning.map((c) => [c.id, c]));
  const apiById = new Map<string, RunningStatus>();
  const missing: ContainerMention[] = [];
  for (const s of statuses) {
    const id = stripRuntimeScheme(s.containerId);
    apiById.set(id, s);
    const c = runtimeById.get(id);
    if (!c || c.labels[KubeLabel.podUid] !== s.runtimeUid || c.name !== s.container) missing.push({ containerId: id, pod: s.pod, container: s.container });
  }
  const stale: StaleContainer[] = [];
  const unknown: ContainerMention[] = [];
  const undecodable: { pod: string; container: string; error: string }[] = [];
  let compared = 0;
  let consistent = 0;
  for (const c of runtimeRunning) {
    const uid = c.labels[KubeLabel.podUid] ?? '';
    const pod = `${c.labels[KubeLabel.podNamespace] ?? ''}/${c.labels[KubeLabel.podName] ?? ''}`;
    const spec = specs.get(`${uid}/${c.name}`);
    if (!spec) {
      unknown.push({ containerId: c.id, pod, container: c.name });
      continue;
    }
    if (spec.hash === undefined) {
      undecodable.push({ pod: spec.pod, container: c.name, error: spec.error ?? 'no hash' });
      continue;
    }
    // A stale label is reported whatever the status says: the restart prediction rests on it.
    const label = containerHashLabel(c);
    if (label !== spec.hash) stale.push({ pod: spec.pod, container: c.name, containerId: c.id, label, expected: spec.hash, init: spec.init });
    const status = apiById.get(c.id);
    if (!status || status.runtimeUid !== uid || status.container !== c.name) {
      unknown.push({ containerId: c.id, pod: spec.pod, container: c.name });
      continue;
    }
    compared++;
    if (label === spec.hash) consistent++;
  }
  const problems: ConsistencyProblem[] = [];
  const add = (kind: ConsistencyProblemKind, message: string): void => void problems.push({ kind, message });
  if (compared === 0) add('nothing-compared', 'no container was found on both sides (API and runtime): nothing was compared');
  if (stale.length) add('stale', `${stale.length} running container(s) carry another version's hash`);
  if (unknown.length) add('unknown', `${unknown.length} running container(s) in the runtime are not running containers of the node's pods in the API`);
  if (missing.length) add('missing', `${missing.length} container(s) the API reports running were not found running in the runtime (is it the kubelet's runtime?)`);
  if (undecodable.length) add('undecodable', `${undecodable.length} container spec(s) could not be hashed`);
  return {
    kubeletVersion: version,
    running: runtimeRunning.length,
    apiRunning: statuses.length,
    compared,
    consistent,
    stale,
    unknown,
    missing,
    undecodable,
    problems,
    allConsistent: problems.length === 0,
  };
}

export type SelfCheckVerdict =
  | { readonly ok: true; readonly message: string; readonly report: ConsistencyReport }
  | { readonly ok: false; readonly code: 'HASH_SELF_CHECK_FAILED' | 'HASH_SELF_CHECK_INCOMPLETE' | 'NODE_NOT_FOUND'; readonly message: string; readonly report?: ConsistencyReport };

/**
 * The preflight hash self-check as a pure verdict (for agent/upgrade/agent.ts): every container
 * found on both sides carries the hash of one of `accepted` (the versions since the skip file's,
 * ending with the running one), and the join is complete and not empty. A container is stale only
 * when its label matches none of the accepted versions.
 */
export function selfCheckVerdict(input: {
  readonly nodeFound: boolean;
  readonly nodeName: string;
  readonly podList: JsonNode;
  readonly containers: readonly ContainerInfo[];
  readonly accepted: readonly string[];
}): SelfCheckVerdict {
  if (!input.nodeFound) {
    return { ok: false, code: 'NODE_NOT_FOUND', message: `no Node named ${JSON.stringify(input.nodeName)} in the API: set nodeName to this node's Node object name` };
  }
  if (input.accepted.length === 0) throw new RangeError('selfCheckVerdict needs at least one accepted version');
  const reports = input.accepted.map((v) => checkConsistency(input.podList, input.containers, v));
  const report = reports[reports.length - 1]!;
  const staleSets = reports.map((r) => new Set(r.stale.map((c) => c.containerId)));
  const staleEverywhere = report.stale.filter((c) => staleSets.every((set) => set.has(c.containerId)));
  if (staleEverywhere.length > 0) {
    const sample = staleEverywhere.slice(0, 5).map((c) => `${c.pod}/${c.container} label ${c.label} != ${c.expected}`);
    return {
      ok: false,
      code: 'HASH_SELF_CHECK_FAILED',
      message: `${staleEverywhere.length} of ${report.compared} compared running containers carry a hash kip does not compute for ${input.accepted.join(' or ')}: ${sample.join('; ')}`,
      report,
    };
  }
  const incomplete = report.problems.filter((p) => p.kind !== 'stale').map((p) => p.message);
  if (incomplete.length > 0) {
    const who = [...report.missing, ...report.unknown].slice(0, 5).map((c) => `${c.pod}/${c.container} (${c.containerId.slice(0, 12)})`);
    return { ok: false, code: 'HASH_SELF_CHECK_INCOMPLETE', message: `the API and the runtime disagree: ${incomplete.join('; ')}${who.length ? `: ${who.join(', ')}` : ''}`, report };
  }
  return { ok: true, message: `kip's hash of all ${report.compared} running containers matches their labels (${input.accepted.join(', ')})`, report };
}
