/**
 * Containers an unpatched kubelet would restart per kubelet hop: those whose container hash at
 * the new version differs from the hash at the version that runs them (lib/knowledge/hash over
 * the live pods as the apiserver serves them, byte for byte).
 */
import {
  collectContainers, decodeAt, hashEngine, hashLabel, normalizeKubeVersion, objectField, stringField, type ContainerRef, type JsonNode,
} from '../../lib/knowledge/hash/index.ts';
import type { KubeletHop } from './path.ts';

export interface HopRestarts {
  readonly from: string;
  readonly to: string;
  readonly containers: number;
  readonly wouldRestart: number;
  /** `ns/pod/container`, sorted. */
  readonly names: readonly string[];
}

/** Pod "ns/name" -> spec.nodeName, from the same PodList tree. */
function nodesOfPods(podList: JsonNode): Map<string, string> {
  const out = new Map<string, string>();
  const items = objectField(podList, 'items');
  if (items?.kind !== 'array') return out;
  for (const pod of items.items) {
    const meta = objectField(pod, 'metadata');
    const spec = objectField(pod, 'spec');
    const key = `${(meta && stringField(meta, 'namespace')) ?? 'default'}/${(meta && stringField(meta, 'name')) ?? ''}`;
    const node = spec && stringField(spec, 'nodeName');
    if (node) out.set(key, node);
  }
  return out;
}

export function predictHopRestarts(podList: JsonNode, hops: readonly KubeletHop[]): HopRestarts[] {
  const refs = collectContainers(podList);
  const nodeOf = nodesOfPods(podList);
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
    const on = new Set(hop.nodes);
    const before = hashesAt(hop.from);
    const after = hashesAt(hop.to);
    const names: string[] = [];
    let containers = 0;
    refs.forEach((r, i) => {
      if (r.pod === null || !on.has(nodeOf.get(r.pod) ?? '')) return;
      containers++;
      if (before[i] !== after[i]) names.push(`${r.pod}/${r.container}`);
    });
    return { from: hop.from, to: hop.to, containers, wouldRestart: names.length, names: names.sort() };
  });
}
