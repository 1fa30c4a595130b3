/**
 * The containers that still carry an old hash (Inventory old_hash), per node and grouped by what
 * the operator rolls to renew them: Deployment, StatefulSet, DaemonSet, ..., a bare Pod or a static
 * pod (Node). Until they are renewed the skip file stays (the consistency loop keeps it). Pure.
 */

export interface OldHashInput {
  readonly node: string;
  readonly containers: readonly { readonly pod: string; readonly containerName: string; readonly oldHash: boolean; readonly ownerKind: string; readonly ownerName: string }[];
}

export interface OwnerGroup {
  readonly node: string;
  readonly kind: string;
  /** namespace/name of the owner (the Node's name for static pods). */
  readonly owner: string;
  /** pod/container, sorted. */
  readonly containers: readonly string[];
  /** How to renew them. */
  readonly roll: string;
}

function rollCommand(kind: string, ns: string, name: string, pod: string): string {
  switch (kind) {
    case 'Deployment':
    case 'StatefulSet':
    case 'DaemonSet':
      return `kubectl -n ${ns} rollout restart ${kind.toLowerCase()}/${name}`;
    case 'Node':
      return 'touch the static pod manifest after the upgrade (or kip finalize: the kubelet recreates it)';
    case 'Pod':
      return `recreate the bare pod ${pod} (kubectl replace --force)`;
    default:
      return `delete the pods of ${kind} ${ns}/${name} one at a time; its controller recreates them`;
  }
}

export function groupOldHashByOwner(nodes: readonly OldHashInput[]): OwnerGroup[] {
  const groups = new Map<string, { node: string; kind: string; owner: string; containers: string[]; roll: string }>();
  for (const n of nodes) {
    for (const c of n.containers) {
      if (!c.oldHash) continue;
      const ns = c.pod.includes('/') ? c.pod.slice(0, c.pod.indexOf('/')) : '';
      const kind = c.ownerKind || 'Pod';
      const name = c.ownerName || c.pod.slice(c.pod.indexOf('/') + 1);
      const owner = kind === 'Node' ? name : `${ns}/${name}`;
      const key = `${n.node}\u0000${kind}\u0000${owner}`;
      const g = groups.get(key) ?? { node: n.node, kind, owner, containers: [], roll: rollCommand(kind, ns, name, c.pod) };
      g.containers.push(`${c.pod}/${c.containerName}`);
      groups.set(key, g);
    }
  }
  return [...groups.values()]
    .map((g) => ({ ...g, containers: [...g.containers].sort() }))
    .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : a.owner < b.owner ? -1 : a.owner > b.owner ? 1 : 0));
}
