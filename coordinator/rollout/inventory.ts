/** What ran where, from the API's pod statuses: the basis of "containers restarted" (the demo and the engine's per-node gate). */
import type { V1Pod } from '@kubernetes/client-node';

export interface ContainerSnapshot {
  /** ns/pod/container -> container id and restart count as the kubelet reports them. */
  readonly containers: ReadonlyMap<string, { readonly id: string; readonly restartCount: number; readonly node: string }>;
}

export function snapshotOf(pods: readonly V1Pod[]): ContainerSnapshot {
  const containers = new Map<string, { id: string; restartCount: number; node: string }>();
  for (const p of pods) {
    if (p.status?.phase !== 'Running') continue;
    for (const c of p.status.containerStatuses ?? []) {
      containers.set(`${p.metadata?.namespace}/${p.metadata?.name}/${c.name}`, { id: c.containerID ?? '', restartCount: c.restartCount, node: p.spec?.nodeName ?? '' });
    }
  }
  return { containers };
}

/** Containers of `before` that were recreated (new id or higher restart count) or are gone in `after`. */
export function restartedBetween(before: ContainerSnapshot, after: ContainerSnapshot): { restarted: string[]; gone: string[] } {
  const restarted: string[] = [];
  const gone: string[] = [];
  for (const [key, b] of before.containers) {
    const a = after.containers.get(key);
    if (!a) gone.push(key);
    else if (a.id !== b.id || a.restartCount > b.restartCount) restarted.push(key);
  }
  return { restarted, gone };
}

/** Every pod Running and every container of it reported. */
export function settled(pods: readonly V1Pod[]): boolean {
  return pods.every((p) => p.status?.phase === 'Running' && (p.status.containerStatuses?.length ?? 0) === (p.spec?.containers.length ?? 0));
}
