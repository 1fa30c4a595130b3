/**
 * What the engine reads of the cluster while it upgrades kubelets: the NotReady nodes, one Node,
 * the pods bound to a node, and a wake-up when any of them may have changed. Two ways to answer:
 * `pollingView` lists Nodes and Pods from the apiserver on every question and wakes after a poll
 * (./polling-view.ts: the engine of before, and what a ClusterApi without a cache gets); the list + watch cache
 * (coordinator/cluster-cache.ts) answers from memory and wakes on the watch event itself.
 *
 * Each answer says since when the view has seen it as it is now (`since`, clock ms), so the
 * engine's last look can ask "settled and unchanged for a while" without sampling twice: a poll
 * knows only what it saw at its own looks; a watch knows when the change happened.
 */
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { InformerStats } from '../../lib/kube/informer.ts';

export interface NodeLook {
  readonly node: V1Node | undefined;
  /** Since when the view has seen the Node's readiness and kubelet version as they are now. */
  readonly since: number;
}

export interface PodsLook {
  /** Pods bound to the node (spec.nodeName), every phase. */
  readonly pods: readonly V1Pod[];
  /** Since when the view has seen the node's pods as they are now. */
  readonly since: number;
}

export interface ClusterView {
  /** Nodes of the cluster that are NotReady now. Rejects when the view cannot tell (apiserver away, watch down). */
  notReady(): Promise<ReadonlySet<string>>;
  node(name: string): Promise<NodeLook>;
  /** The pods of each named node (one list for all of them when polling). */
  podsOn(names: readonly string[]): Promise<ReadonlyMap<string, PodsLook>>;
  /** Resolves when the node or a pod on it may have changed, after at most `ms`, or when `signal` aborts. */
  changed(name: string, ms: number, signal?: AbortSignal): Promise<void>;
  /** The view follows the cluster now (a poll always does; a cache while its watches are open). */
  live(): boolean;
  /** Calls `fn` when the set of NotReady nodes changed (a cache only; a poll is asked again). Returns the unsubscribe. */
  onNotReadyChange(fn: () => void): () => void;
}

/** A view the caller opened and must stop. */
export interface OpenedView extends ClusterView {
  stop(): Promise<void>;
  /** Calls `fn` for every pod change the cache applies (in order). Returns the unsubscribe. */
  onPodChange(fn: (pod: V1Pod, deleted: boolean) => void): () => void;
  /** The informers' list/watch counts (what the cache asked of the apiserver). */
  stats(): { readonly nodes: InformerStats; readonly pods: InformerStats };
}

export const isReady = (n: V1Node | undefined): boolean => n?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
export const nodeKey = (n: V1Node | undefined): string => `${n ? (isReady(n) ? 'Ready' : 'NotReady') : 'absent'}|${n?.status?.nodeInfo?.kubeletVersion ?? ''}`;

/** What of a node's pods the engine's look compares: each pod's phase and containers (id, restarts). */
export function podsKey(pods: readonly V1Pod[]): string {
  return JSON.stringify(pods.map((p) => [p.metadata?.namespace, p.metadata?.name, p.status?.phase, (p.status?.containerStatuses ?? []).map((c) => [c.name, c.containerID ?? '', c.restartCount])])
    .sort((a, b) => (String(a[0]) + '/' + String(a[1]) < String(b[0]) + '/' + String(b[1]) ? -1 : 1)));
}
