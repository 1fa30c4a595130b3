/**
 * What the demo judges kip by, independently of kip's own code: the containers as the workers'
 * runtimes report them (containerd over CRI, dockerd with dockershim's labels) and the hashes
 * the real Go kubelet computes (the golden vectors the lab kubelets use in oracle mode).
 *
 * - A container restarted when its (node, pod uid, container name) runs under another container
 *   id afterwards; it went away when nothing of that name runs in that pod any more.
 * - A container "would restart without the skip file" at version V when its runtime hash label
 *   differs from the golden hash V computes for its spec as the apiserver serves it: an upstream
 *   kubelet V restarts exactly those (kuberuntime_manager.go computePodActions, hash changed).
 */
import type { ContainerInfo } from '../../agent/runtime/types.ts';
import { KubeAnnotation, KubeLabel } from '../../agent/runtime/kube-labels.ts';
import { objectField, type JsonNode } from '../../lib/knowledge/hash/index.ts';
import type { ContainerHasher } from '../lab/kubelet/hashes.ts';

export interface RuntimeContainer {
  readonly node: string;
  readonly id: string;
  readonly podUid: string;
  /** namespace/name of the pod */
  readonly pod: string;
  readonly name: string;
  readonly hashLabel: string;
}

/** Every running Kubernetes container of every worker, keyed node/pod-uid/container. */
export type RuntimeSnapshot = ReadonlyMap<string, RuntimeContainer>;

export interface RuntimeSource {
  readonly node: string;
  listContainers(): Promise<ContainerInfo[]>;
}

const keyOf = (c: Pick<RuntimeContainer, 'node' | 'podUid' | 'name'>): string => `${c.node}/${c.podUid}/${c.name}`;

export async function runtimeSnapshot(sources: readonly RuntimeSource[]): Promise<RuntimeSnapshot> {
  const out = new Map<string, RuntimeContainer>();
  for (const s of sources) {
    for (const c of await s.listContainers()) {
      const podUid = c.labels[KubeLabel.podUid];
      if (c.state !== 'running' || !podUid) continue;
      const rc: RuntimeContainer = {
        node: s.node, id: c.id, podUid, name: c.name,
        pod: `${c.labels[KubeLabel.podNamespace] ?? ''}/${c.labels[KubeLabel.podName] ?? ''}`,
        hashLabel: c.annotations[KubeAnnotation.containerHash] ?? c.labels[KubeAnnotation.containerHash] ?? '',
      };
      out.set(keyOf(rc), rc);
    }
  }
  return out;
}

/** Containers of `before` that run under another id in `after` (restarted) or not at all (gone). */
export function restartsBetween(before: RuntimeSnapshot, after: RuntimeSnapshot): { restarted: string[]; gone: string[] } {
  const restarted: string[] = [];
  const gone: string[] = [];
  for (const [k, c] of before) {
    const now = after.get(k);
    const label = `${c.node}/${c.pod}/${c.name}`;
    if (!now) gone.push(label);
    else if (now.id !== c.id) restarted.push(label);
  }
  return { restarted: restarted.sort(), gone: gone.sort() };
}

/**
 * The containers an upstream kubelet `version` would restart: label != golden hash of the spec.
 * `pods` is the apiserver's PodList as JSON (the kubelet hashes what the apiserver serves).
 * A container the vectors cannot answer is counted in `unknown`, never guessed. `names` are
 * node/ns/pod/container, as restartsBetween names them.
 */
export function predictedRestarts(
  snapshot: RuntimeSnapshot, pods: JsonNode, version: string, hasher: ContainerHasher, staticPods: ReadonlyMap<string, JsonNode> = new Map(),
): { count: number; names: string[]; unknown: string[] } {
  const specs = new Map<string, JsonNode>();
  const items = objectField(pods, 'items');
  for (const p of items?.kind === 'array' ? items.items : []) {
    const uid = objectField(objectField(p, 'metadata'), 'uid');
    const containers = objectField(objectField(p, 'spec'), 'containers');
    if (uid?.kind !== 'string' || containers?.kind !== 'array') continue;
    for (const c of containers.items) {
      const name = objectField(c, 'name');
      if (name?.kind === 'string') specs.set(`${uid.value}/${name.value}`, c);
    }
  }
  const names: string[] = [];
  const unknown: string[] = [];
  for (const c of snapshot.values()) {
    // A static pod is hashed from its manifest file (source file), not from its mirror pod.
    const manifest = staticContainer(staticPods.get(c.node), c);
    const spec = manifest ?? specs.get(`${c.podUid}/${c.name}`);
    let hash: string | undefined;
    try {
      hash = spec ? hasher.hash(spec, version, manifest ? 'file' : 'apiserver') : undefined;
    } catch {
      hash = undefined;
    }
    if (hash === undefined) unknown.push(`${c.node}/${c.pod}/${c.name}`);
    else if (hash !== c.hashLabel) names.push(`${c.node}/${c.pod}/${c.name}`);
  }
  return { count: names.length, names: names.sort(), unknown };
}

/** The container of a node's static pod manifest that `c` runs (the mirror pod is <name>-<node>). */
function staticContainer(manifest: JsonNode | undefined, c: RuntimeContainer): JsonNode | undefined {
  const name = objectField(objectField(manifest, 'metadata'), 'name');
  if (name?.kind !== 'string' || c.pod.split('/')[1] !== `${name.value}-${c.node}`) return undefined;
  const containers = objectField(objectField(manifest, 'spec'), 'containers');
  return containers?.kind === 'array' ? containers.items.find((x) => { const n = objectField(x, 'name'); return n?.kind === 'string' && n.value === c.name; }) : undefined;
}
