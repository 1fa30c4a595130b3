/**
 * The hash-consistency check behind the skip file's removal: does every running container on
 * this node carry, in its io.kubernetes.container.hash label, the hash the running kubelet
 * version computes for its spec? Only then may the skip file go: a patched kubelet that starts
 * without it compares every hash again. Pure: pods and containers come in as data.
 */
import { collectContainers, hashEngine, hashLabel, decodeAt, type JsonNode } from '../../lib/knowledge/hash/index.ts';
import { KubeAnnotation, KubeLabel } from '../runtime/kube-labels.ts';
import type { ContainerInfo } from '../runtime/types.ts';

export interface StaleContainer {
  readonly pod: string;
  readonly container: string;
  readonly containerId: string;
  /** The hash label the container was created with. */
  readonly label: string;
  /** The hash the running kubelet computes for the current spec. */
  readonly expected: string;
}

export interface ConsistencyReport {
  readonly kubeletVersion: string;
  readonly running: number;
  readonly consistent: number;
  readonly stale: readonly StaleContainer[];
  /** Running containers whose pod is not in the API answer (being deleted, static pods). */
  readonly unknown: readonly { readonly containerId: string; readonly pod: string; readonly container: string }[];
  readonly allConsistent: boolean;
}

/**
 * podList: the API's PodList (raw JSON, as served) of the pods bound to this node.
 * Containers of pods the API does not list make the answer "not consistent": kip cannot prove
 * what the kubelet would compute for them.
 */
export function checkConsistency(podList: JsonNode, containers: readonly ContainerInfo[], kubeletVersion: string): ConsistencyReport {
  const engine = hashEngine(kubeletVersion);
  const specs = new Map<string, { pod: string; hash: string }>();
  for (const ref of collectContainers(podList)) {
    if (ref.podUid === null) continue;
    specs.set(`${ref.podUid}/${ref.container}`, { pod: ref.pod ?? '', hash: hashLabel(engine.hashDecoded(decodeAt(engine, ref))) });
  }
  const stale: StaleContainer[] = [];
  const unknown: { containerId: string; pod: string; container: string }[] = [];
  let running = 0;
  for (const c of containers) {
    if (c.state !== 'running') continue;
    running++;
    const uid = c.labels[KubeLabel.podUid] ?? '';
    const pod = `${c.labels[KubeLabel.podNamespace] ?? ''}/${c.labels[KubeLabel.podName] ?? ''}`;
    const spec = specs.get(`${uid}/${c.name}`);
    if (!spec) {
      unknown.push({ containerId: c.id, pod, container: c.name });
      continue;
    }
    const label = c.annotations[KubeAnnotation.containerHash] ?? c.labels[KubeAnnotation.containerHash] ?? '';
    if (label !== spec.hash) stale.push({ pod, container: c.name, containerId: c.id, label, expected: spec.hash });
  }
  return {
    kubeletVersion: engine.kubeVersion,
    running,
    consistent: running - stale.length - unknown.length,
    stale,
    unknown,
    allConsistent: stale.length === 0 && unknown.length === 0,
  };
}
