/**
 * Inventory and hash report (the Inventory and HashReport RPCs): pure functions of the API's
 * PodList, the runtime's containers and the kubelet version.
 */
import { collectContainers, decodeAt, hashEngine, hashLabel, normalizeKubeVersion, objectField, stringField, supportedVersions, type JsonNode } from '../../lib/knowledge/hash/index.ts';
import { KubeLabel } from '../runtime/kube-labels.ts';
import type { ContainerInfo } from '../runtime/types.ts';
import { checkConsistency, containerHashLabel, isKubernetesContainer, selfCheckVerdict } from './consistency.ts';
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
}

/** Every running Kubernetes container, with the hash each supported version computes for its spec. */
export function inventory(podList: JsonNode, containers: readonly ContainerInfo[], versions: readonly string[] = supportedVersions()): InventoryContainer[] {
  const engines = versions.map((v) => hashEngine(v));
  const specs = new Map<string, { ref: ReturnType<typeof collectContainers>[number] }>();
  const uidOf = new Map<string, string>();
  const items = objectField(podList, 'items');
  for (const pod of items?.kind === 'array' ? items.items : []) {
    const apiUid = stringField(objectField(pod, 'metadata'), 'uid');
    if (apiUid) uidOf.set(apiUid, podRuntimeUid(pod) ?? apiUid);
  }
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
    const base = { containerId: c.id, pod, podUid: uid, containerName: c.name, init: spec?.ref.init ?? false, hashLabel: label };
    if (!spec) {
      out.push({ ...base, matchingVersions: [], hashes: [], problem: 'no pod in the API has this container' });
      continue;
    }
    try {
      const hashes = engines.map((e) => ({ kubeVersion: e.kubeVersion, hash: hashLabel(e.hashDecoded(decodeAt(e, spec.ref))) }));
      out.push({ ...base, hashes, matchingVersions: hashes.filter((h) => h.hash === label).map((h) => h.kubeVersion), problem: '' });
    } catch (err) {
      out.push({ ...base, matchingVersions: [], hashes: [], problem: err instanceof Error ? err.message : String(err) });
    }
  }
  return out;
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
  const accepted = input.skipFileVersion ? minorsFromTo(input.skipFileVersion, input.kubeletVersion) : [normalizeKubeVersion(input.kubeletVersion)];
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
