/**
 * Inventory and hash report (the Inventory and HashReport RPCs): pure functions of the API's
 * PodList, the runtime's containers and the kubelet version.
 */
import { hot } from '../../lib/optimizer.ts';
import { collectContainers, decodeAt, hashEngine, hashLabel, normalizeKubeVersion, objectField, stringField, supportedVersions, type ContainerRef, type JsonNode } from '../../lib/knowledge/hash/index.ts';
import { KubeLabel } from '../runtime/kube-labels.ts';
import type { ContainerInfo } from '../runtime/types.ts';
import { checkConsistency, containerHashLabel, isKubernetesContainer, selfCheckVerdict } from './consistency.ts';
import { explainDrift } from './drift.ts';
import type { HashMemo } from './hash-memo.ts';
import { podOwner, type PodOwner } from './owner.ts';
import { podRuntimeUid } from './pod-view.ts';

export interface InventoryContainer {
  readonly containerId: string;
  readonly pod: string;
  readonly podUid: string;
  readonly containerName: string;
  readonly init: boolean;
  readonly hashLabel: string;
  readonly matchingVersions: readonly string[];
  readonly hashes: readonly { readonly kubeVersion: string; readonly hash: string }[];
  readonly problem: string;
  /** The label is not the running kubelet's hash (only when a kubelet version was given). */
  readonly oldHash: boolean;
  /** Hash drift: see ./drift.ts (only while a skip file version was given). */
  readonly drift: boolean;
  readonly driftFields: readonly string[];
  readonly driftDetail: string;
  readonly ownerKind: string;
  readonly ownerName: string;
}

export interface InventoryContext {
  /** The running kubelet's version: old_hash is computed against it. */
  readonly kubeletVersion?: string;
  /** The version the valid skip file names: drift is computed from it to kubeletVersion. */
  readonly skipFileVersion?: string;
}

/** The versions a container may carry the hash of while the skip file names `skipFileVersion`. */
export function acceptedVersions(kubeletVersion: string, skipFileVersion: string | undefined): string[] {
  return skipFileVersion ? minorsFromTo(skipFileVersion, kubeletVersion) : [normalizeKubeVersion(kubeletVersion)];
}

/**
 * Every running Kubernetes container, with the hash each supported version computes for its spec,
 * its owner, and (with `context`) whether its hash is old and whether it drifted.
 */
export function inventory(podList: JsonNode, containers: readonly ContainerInfo[], versions: readonly string[] = supportedVersions(), context: InventoryContext = {}, memo?: HashMemo): InventoryContainer[] {
  // TurboFan on for the pass (lib/optimizer.ts): the agent runs without it at idle.
  return hot(() => inventoryPass(podList, containers, versions, context, memo));
}

function inventoryPass(podList: JsonNode, containers: readonly ContainerInfo[], versions: readonly string[], context: InventoryContext, memo: HashMemo | undefined): InventoryContainer[] {
  const engines = versions.map((v) => hashEngine(v));
  const specs = new Map<string, { ref: ReturnType<typeof collectContainers>[number] }>();
  const uidOf = new Map<string, string>();
  const ownerOf = new Map<string, PodOwner>();
  const items = objectField(podList, 'items');
  for (const pod of items?.kind === 'array' ? items.items : []) {
    const apiUid = stringField(objectField(pod, 'metadata'), 'uid');
    if (apiUid) {
      uidOf.set(apiUid, podRuntimeUid(pod) ?? apiUid);
      ownerOf.set(apiUid, podOwner(pod));
    }
  }
  const running = context.kubeletVersion ? safeMinor(context.kubeletVersion) : undefined;
  const accepted = context.kubeletVersion && context.skipFileVersion ? acceptedVersions(context.kubeletVersion, context.skipFileVersion) : undefined;
  for (const ref of collectContainers(podList)) {
    if (ref.podUid === null) continue;
    specs.set(`${uidOf.get(ref.podUid) ?? ref.podUid}/${ref.container}`, { ref });
  }
  const out: InventoryContainer[] = [];
  for (const c of containers) {
    if (c.state !== 'running' || !isKubernetesContainer(c)) continue;
    const uid = c.labels[KubeLabel.podUid] ?? '';
    const label = containerHashLabel(c);
    const spec = specs.get(`${uid}/${c.name}`);
    const pod = spec?.ref.pod ?? `${c.labels[KubeLabel.podNamespace] ?? ''}/${c.labels[KubeLabel.podName] ?? ''}`;
    const owner = spec?.ref.podUid ? ownerOf.get(spec.ref.podUid) : undefined;
    const base = {
      containerId: c.id, pod, podUid: uid, containerName: c.name, init: spec?.ref.init ?? false, hashLabel: label,
      ownerKind: owner?.kind ?? '', ownerName: owner?.name ?? '', oldHash: false, drift: false, driftFields: [] as string[], driftDetail: '',
    };
    if (!spec) {
      out.push({ ...base, matchingVersions: [], hashes: [], problem: 'no pod in the API has this container' });
      continue;
    }
    try {
      const compute = () => engines.map((e) => ({ kubeVersion: e.kubeVersion, hash: hashLabel(e.hashDecoded(decodeAt(e, spec.ref))) }));
      const hashes = memo ? memo.hashes(spec.ref.node.raw, versions, compute) : compute();
      const matchingVersions = hashes.filter((h) => h.hash === label).map((h) => h.kubeVersion);
      const runningHash = running ? hashOf(hashes, running, spec.ref) : undefined;
      const oldHash = runningHash !== undefined && runningHash !== label;
      const drifted = accepted !== undefined && !accepted.some((v) => matchingVersions.includes(v) || hashOf(hashes, v, spec.ref) === label);
      const why = drifted ? explainDrift(spec.ref, label, c.image, accepted) : undefined;
      out.push({ ...base, hashes, matchingVersions, problem: '', oldHash, drift: drifted, driftFields: why ? [...why.fields] : [], driftDetail: why?.detail ?? '' });
    } catch (err) {
      out.push({ ...base, matchingVersions: [], hashes: [], problem: err instanceof Error ? err.message : String(err) });
    }
  }
  memo?.endPass();
  return out;
}

function safeMinor(v: string): string | undefined {
  try {
    return normalizeKubeVersion(v);
  } catch {
    return undefined;
  }
}

/** The hash of `ref` at version v: from the computed list, else computed (a version outside `versions`). */
function hashOf(hashes: readonly { kubeVersion: string; hash: string }[], v: string, ref: ContainerRef): string {
  const known = hashes.find((h) => h.kubeVersion === v);
  if (known) return known.hash;
  const e = hashEngine(v);
  return hashLabel(e.hashDecoded(decodeAt(e, ref)));
}

/** The minors from `oldest` to `newest` inclusive (both normalized), oldest first. */
export function minorsFromTo(oldest: string, newest: string): string[] {
  const a = Number(normalizeKubeVersion(oldest).split('.')[1]);
  const b = Number(normalizeKubeVersion(newest).split('.')[1]);
  const out: string[] = [];
  for (let m = Math.min(a, b); m <= b; m++) out.push(`1.${m}`);
  return out;
}

export interface HashReport {
  readonly kubeletVersion: string;
  readonly selfCheck: { readonly ok: boolean; readonly code: string; readonly message: string };
  readonly predictedRestarts: readonly string[];
  readonly consistent: boolean;
  readonly compared: number;
  readonly problems: readonly string[];
}

export function hashReport(input: {
  readonly nodeFound: boolean;
  readonly nodeName: string;
  readonly podList: JsonNode;
  readonly containers: readonly ContainerInfo[];
  readonly kubeletVersion: string;
  /** The version the skip file names, when it is present and valid. */
  readonly skipFileVersion?: string;
  readonly targetVersion?: string;
}): HashReport {
  const accepted = acceptedVersions(input.kubeletVersion, input.skipFileVersion);
  const verdict = selfCheckVerdict({ nodeFound: input.nodeFound, nodeName: input.nodeName, podList: input.podList, containers: input.containers, accepted });
  const consistency = checkConsistency(input.podList, input.containers, input.kubeletVersion);
  const predicted = input.targetVersion ? checkConsistency(input.podList, input.containers, input.targetVersion).stale.map((s) => `${s.pod}/${s.container}`) : [];
  return {
    kubeletVersion: consistency.kubeletVersion,
    selfCheck: { ok: verdict.ok, code: verdict.ok ? 'OK' : verdict.code, message: verdict.message },
    predictedRestarts: predicted,
    consistent: input.nodeFound && consistency.allConsistent,
    compared: consistency.compared,
    problems: [...(input.nodeFound ? [] : [`no Node named ${input.nodeName}`]), ...consistency.problems.map((p) => p.message)],
  };
}
