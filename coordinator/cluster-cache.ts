/**
 * The engine's view of the cluster from two list + watch caches (lib/kube/informer.ts): Nodes, and
 * Pods indexed by spec.nodeName. One list of each at start and one watch each after, instead of a
 * Node list every scheduling round and a Pod list for every node's look (issue 10: at 1,000 nodes
 * the lists are the apiserver's load). The NotReady set is kept as Node events arrive, the engine's
 * waits end on the event for their node, and every answer carries since when it has been so.
 */
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { after, type Clock } from '../lib/clock.ts';
import { Informer, keyOf, type ListWatch } from '../lib/kube/informer.ts';
import type { Logger } from '../lib/logger.ts';
import { isReady, nodeKey, type OpenedView, type PodsLook } from './rollout/cluster-view.ts';
import { KipError } from '../lib/errors.ts';

export interface CacheSources {
  readonly nodes: ListWatch<V1Node>;
  readonly pods: ListWatch<V1Pod>;
}

export interface CacheOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  /** Reconnect backoff cap: while a watch is down the view is not live and no node starts. */
  readonly maxBackoffMs?: number;
  /** How long the first lists may take (default 60 s): the apiserver not answering fails the open. */
  readonly syncTimeoutMs?: number;
}

/** Starts both informers and resolves once each holds its first list. */
export async function openClusterCache(sources: CacheSources, options: CacheOptions): Promise<OpenedView> {
  const { clock, logger } = options;
  const informer = <T extends { metadata?: { name?: string; namespace?: string; resourceVersion?: string } }>(source: ListWatch<T>, what: string): Informer<T> =>
    new Informer<T>({ source, clock, logger, what, maxBackoffMs: options.maxBackoffMs ?? 2_000 });
  const nodes = informer(sources.nodes, 'nodes');
  const pods = informer(sources.pods, 'pods');

  const notReady = new Set<string>();
  const nodeSince = new Map<string, { key: string; since: number }>();
  const byNode = new Map<string, Map<string, V1Pod>>();
  const podsSince = new Map<string, number>();
  const waiters = new Map<string, Set<() => void>>();
  const notReadyListeners = new Set<() => void>();
  const podListeners = new Set<(pod: V1Pod, deleted: boolean) => void>();
  let startedAt = clock.now();

  const wake = (name: string): void => {
    for (const w of waiters.get(name) ?? []) w();
  };
  nodes.on((type, n) => {
    const name = n.metadata?.name ?? '';
    const was = notReady.has(name);
    if (type === 'DELETED' || isReady(n)) notReady.delete(name);
    else notReady.add(name);
    const key = type === 'DELETED' ? nodeKey(undefined) : nodeKey(n);
    if (nodeSince.get(name)?.key !== key) nodeSince.set(name, { key, since: clock.now() });
    wake(name);
    if (was !== notReady.has(name)) for (const l of notReadyListeners) l();
  });
  pods.on((type, p, old) => {
    const key = keyOf(p);
    const before = old?.spec?.nodeName ?? '';
    const now = type === 'DELETED' ? '' : p.spec?.nodeName ?? '';
    if (before && before !== now) byNode.get(before)?.delete(key);
    if (type === 'DELETED' && before === '' && p.spec?.nodeName) byNode.get(p.spec.nodeName)?.delete(key);
    if (now) {
      let m = byNode.get(now);
      if (!m) byNode.set(now, (m = new Map()));
      m.set(key, p);
    }
    for (const n of new Set([before, now, type === 'DELETED' ? p.spec?.nodeName ?? '' : ''])) {
      if (!n) continue;
      podsSince.set(n, clock.now());
      wake(n);
    }
    for (const l of podListeners) l(p, type === 'DELETED');
  });
  startedAt = clock.now();
  const timeoutMs = options.syncTimeoutMs ?? 60_000;
  const ac = new AbortController();
  const synced = await Promise.race([Promise.all([nodes.start(), pods.start()]).then(() => true), clock.sleep(timeoutMs, ac.signal).then(() => false)]);
  ac.abort('synced');
  if (!synced) {
    await Promise.all([nodes.stop(), pods.stop()]);
    throw new KipError('CLUSTER_CACHE_SYNC_TIMEOUT', `the apiserver did not answer the Node and Pod lists within ${Math.round(timeoutMs / 1000)} s`, { timeoutMs });
  }
  const live = (): boolean => nodes.live && pods.live;
  return {
    notReady: async () => {
      if (!live()) throw new KipError('CLUSTER_CACHE_NOT_WATCHING', 'the Node and Pod watches are reconnecting; the cache may be stale', {});
      return notReady;
    },
    node: async (name) => ({ node: nodes.get(name), since: nodeSince.get(name)?.since ?? startedAt }),
    podsOn: async (names) => {
      const out = new Map<string, PodsLook>();
      for (const name of names) out.set(name, { pods: [...(byNode.get(name)?.values() ?? [])], since: podsSince.get(name) ?? startedAt });
      return out;
    },
    changed: (name, ms, signal) =>
      new Promise<void>((resolve) => {
        if (signal?.aborted) {
          resolve();
          return;
        }
        let set = waiters.get(name);
        if (!set) waiters.set(name, (set = new Set()));
        const mine = set;
        // A timer cancelled on the event, not a sleep with an AbortController: one wait per
        // node look, and an AbortSignal's listener and Event cost more than the wait's own work.
        let cancel: (() => void) | undefined;
        const done = (): void => {
          if (!mine.delete(done)) return;
          if (mine.size === 0 && waiters.get(name) === mine) waiters.delete(name);
          cancel?.();
          signal?.removeEventListener('abort', done);
          resolve();
        };
        mine.add(done);
        cancel = after(clock, ms, done);
        signal?.addEventListener('abort', done, { once: true });
      }),
    live,
    onNotReadyChange: (fn) => {
      notReadyListeners.add(fn);
      return () => notReadyListeners.delete(fn);
    },
    onPodChange: (fn) => {
      podListeners.add(fn);
      return () => podListeners.delete(fn);
    },
    stop: async () => {
      await Promise.all([nodes.stop(), pods.stop()]);
    },
    stats: () => ({ nodes: nodes.stats, pods: pods.stats }),
  };
}
