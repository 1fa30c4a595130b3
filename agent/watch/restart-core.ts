/**
 * Pure core of the restart watcher: the difference between two ListContainers snapshots, per
 * (pod uid, container name) — the identity the kubelet itself uses for "the same container".
 * A new container id for a known (pod uid, container name) is a restart, whatever its attempt.
 */
import { KubeLabel } from '../runtime/kube-labels.ts';
import type { ContainerInfo, ContainerState } from '../runtime/types.ts';

export interface ContainerIdentity {
  /** Pod uid from io.kubernetes.pod.uid; "sandbox:<id>" for containers the kubelet did not label. */
  readonly podUid: string;
  readonly podName: string;
  readonly podNamespace: string;
  /** From io.kubernetes.container.name, else the CRI metadata name. */
  readonly containerName: string;
}

export interface ContainerObservation {
  readonly id: string;
  readonly podSandboxId: string;
  readonly attempt: number;
  readonly state: ContainerState;
  readonly createdAtNs: bigint;
}

export type RestartEvent =
  | (ContainerIdentity & { readonly kind: 'added'; readonly observedAtMs: number; readonly container: ContainerObservation })
  | (ContainerIdentity & {
      readonly kind: 'restarted';
      readonly observedAtMs: number;
      readonly previous: ContainerObservation;
      readonly current: ContainerObservation;
      /** current.attempt - previous.attempt when positive (several restarts between two polls), else 1. */
      readonly restarts: number;
    })
  | (ContainerIdentity & { readonly kind: 'exited'; readonly observedAtMs: number; readonly container: ContainerObservation })
  | (ContainerIdentity & { readonly kind: 'removed'; readonly observedAtMs: number; readonly container: ContainerObservation });

export type RestartEventKind = RestartEvent['kind'];

export function identityOf(c: ContainerInfo): ContainerIdentity {
  const uid = c.labels[KubeLabel.podUid];
  return {
    podUid: uid !== undefined && uid !== '' ? uid : `sandbox:${c.podSandboxId}`,
    podName: c.labels[KubeLabel.podName] ?? '',
    podNamespace: c.labels[KubeLabel.podNamespace] ?? '',
    containerName: c.labels[KubeLabel.containerName] ?? c.name,
  };
}

export function identityKey(i: ContainerIdentity): string {
  return `${i.podUid}\u0000${i.containerName}`;
}

function observe(c: ContainerInfo): ContainerObservation {
  return { id: c.id, podSandboxId: c.podSandboxId, attempt: c.attempt, state: c.state, createdAtNs: c.createdAtNs };
}

/** The newest container of a group: latest creation time, then highest attempt, then id. */
function newer(a: ContainerInfo, b: ContainerInfo): boolean {
  if (a.createdAtNs !== b.createdAtNs) return a.createdAtNs > b.createdAtNs;
  if (a.attempt !== b.attempt) return a.attempt > b.attempt;
  return a.id > b.id;
}

interface Group {
  readonly identity: ContainerIdentity;
  latest: ContainerInfo;
}

function group(snapshot: readonly ContainerInfo[]): Map<string, Group> {
  const out = new Map<string, Group>();
  for (const c of snapshot) {
    const identity = identityOf(c);
    const key = identityKey(identity);
    const g = out.get(key);
    if (g === undefined) out.set(key, { identity, latest: c });
    else if (newer(c, g.latest)) g.latest = c;
  }
  return out;
}

const KIND_ORDER: Readonly<Record<RestartEventKind, number>> = { removed: 0, exited: 1, restarted: 2, added: 3 };

/**
 * Events that turn snapshot `prev` into `next`:
 *  - added:     a (pod uid, container name) not in prev;
 *  - restarted: its newest container in next is a container id prev did not have;
 *  - exited:    a container id whose state became exited (or that appeared already exited);
 *  - removed:   a (pod uid, container name) in prev that next no longer has at all.
 * Older containers of a name disappearing (garbage collection) are not events.
 * Events are sorted by pod uid, container name, then kind order removed, exited, restarted, added.
 */
export function diffSnapshots(prev: readonly ContainerInfo[], next: readonly ContainerInfo[], observedAtMs: number): RestartEvent[] {
  const before = group(prev);
  const after = group(next);
  const prevById = new Map(prev.map((c) => [c.id, c] as const));
  const events: RestartEvent[] = [];

  for (const [key, g] of after) {
    const old = before.get(key);
    if (old === undefined) {
      events.push({ ...g.identity, kind: 'added', observedAtMs, container: observe(g.latest) });
    } else if (g.latest.id !== old.latest.id && !prevById.has(g.latest.id)) {
      const delta = g.latest.attempt - old.latest.attempt;
      events.push({
        ...g.identity,
        kind: 'restarted',
        observedAtMs,
        previous: observe(old.latest),
        current: observe(g.latest),
        restarts: delta > 0 ? delta : 1,
      });
    }
  }
  for (const c of next) {
    if (c.state !== 'exited') continue;
    const was = prevById.get(c.id);
    if (was !== undefined && was.state === 'exited') continue;
    events.push({ ...identityOf(c), kind: 'exited', observedAtMs, container: observe(c) });
  }
  for (const [key, g] of before) {
    if (!after.has(key)) events.push({ ...g.identity, kind: 'removed', observedAtMs, container: observe(g.latest) });
  }
  return events.sort(
    (a, b) =>
      (a.podUid < b.podUid ? -1 : a.podUid > b.podUid ? 1 : 0) ||
      (a.containerName < b.containerName ? -1 : a.containerName > b.containerName ? 1 : 0) ||
      KIND_ORDER[a.kind] - KIND_ORDER[b.kind],
  );
}
