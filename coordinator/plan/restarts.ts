/**
 * Containers an unpatched kubelet would restart per kubelet hop: those whose container hash at
 * the new version differs from the hash at the version that runs them (lib/knowledge/hash over
 * the live pods as the apiserver serves them, byte for byte).
 *
 * Only the regular containers of pods that still run are counted, in the total as in the
 * restarts: the kubelet compares the hash of `pod.Spec.Containers` only, and only of containers
 * the runtime reports running (kuberuntime_manager.go computePodActions, 1.10-1.17:
 * `for idx, container := range pod.Spec.Containers` ... `containerChanged(&container,
 * containerStatus)` after the not-running `continue`); init containers go through
 * findNextInitContainerToRun, which never looks at their hash, and once they exited successfully
 * they are not run again. A pod in phase Succeeded or Failed runs no container to restart. (Counting
 * init containers made the lab's 46 running containers 48: its two pods with an init container.)
 */
import {
  collectContainers, decodeAt, hashEngine, hashLabel, normalizeKubeVersion, objectField, stringField, type ContainerRef, type JsonNode,
} from '../../lib/knowledge/hash/index.ts';
import type { KubeletHop } from './path.ts';

export interface NodeRestarts {
  readonly containers: number;
  readonly wouldRestart: number;
}

export interface HopRestarts {
  readonly from: string;
  readonly to: string;
  readonly containers: number;
  readonly wouldRestart: number;
  /** `ns/pod/container`, sorted. */
  readonly names: readonly string[];
  /** The same per node of the hop (every node of the hop, containers 0 where nothing runs). */
  readonly byNode: Readonly<Record<string, NodeRestarts>>;
}

/** Pod "ns/name" -> spec.nodeName of the pods that still run (not Succeeded or Failed), from the same PodList tree. */
function nodesOfRunningPods(podList: JsonNode): Map<string, string> {
  const out = new Map<string, string>();
  const items = objectField(podList, 'items');
  if (items?.kind !== 'array') return out;
  for (const pod of items.items) {
    const meta = objectField(pod, 'metadata');
    const spec = objectField(pod, 'spec');
    const status = objectField(pod, 'status');
    const phase = status && stringField(status, 'phase');
    if (phase === 'Succeeded' || phase === 'Failed') continue;
    const key = `${(meta && stringField(meta, 'namespace')) ?? 'default'}/${(meta && stringField(meta, 'name')) ?? ''}`;
    const node = spec && stringField(spec, 'nodeName');
    if (node) out.set(key, node);
  }
  return out;
}

export function predictHopRestarts(podList: JsonNode, hops: readonly KubeletHop[]): HopRestarts[] {
  // Regular containers only: an init container's hash is never compared (see the header).
  const refs = collectContainers(podList).filter((r) => !r.init);
  const nodeOf = nodesOfRunningPods(podList);
  const cache = new Map<string, string[]>();
  const hashesAt = (version: string): string[] => {
    // Minors without a known patch are written `v1.13.x` in the plan; the hash depends on the minor only.
    const minor = normalizeKubeVersion(/^v?\d+\.\d+/.exec(version)?.[0] ?? version);
    let h = cache.get(minor);
    if (!h) {
      const engine = hashEngine(minor);
      h = refs.map((r: ContainerRef) => hashLabel(engine.hashDecoded(decodeAt(engine, r))));
      cache.set(minor, h);
    }
    return h;
  };
  return hops.map((hop) => {
    const perNode = new Map(hop.nodes.map((n) => [n, { containers: 0, wouldRestart: 0 }]));
    const before = hashesAt(hop.from);
    const after = hashesAt(hop.to);
    const names: string[] = [];
    let containers = 0;
    refs.forEach((r, i) => {
      const node = r.pod === null ? undefined : nodeOf.get(r.pod);
      const counts = node === undefined ? undefined : perNode.get(node);
      if (!counts) return;
      containers++;
      counts.containers++;
      if (before[i] !== after[i]) {
        names.push(`${r.pod}/${r.container}`);
        counts.wouldRestart++;
      }
    });
    return { from: hop.from, to: hop.to, containers, wouldRestart: names.length, names: names.sort(), byNode: Object.fromEntries(perNode) };
  });
}
