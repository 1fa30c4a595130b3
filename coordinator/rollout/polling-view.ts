/** The ClusterView that lists from the apiserver on every question (a ClusterApi without a cache). */
import type { Clock } from '../../lib/clock.ts';
import type { ClusterApi } from '../ports.ts';
import { isReady, nodeKey, podsKey, type ClusterView, type PodsLook } from './cluster-view.ts';

/**
 * Lists on every question. `since` is the first look at which this view saw the current state: a
 * state seen at one look only is `since` now, so "unchanged for pollMs" takes two looks a poll
 * apart, the engine's rule before the cache.
 */
export function pollingView(cluster: ClusterApi, clock: Clock, pollMs: number): ClusterView {
  const seen = new Map<string, { key: string; since: number }>();
  const sinceOf = (id: string, key: string): number => {
    const prev = seen.get(id);
    if (prev?.key === key) return prev.since;
    const since = clock.now();
    seen.set(id, { key, since });
    return since;
  };
  return {
    notReady: async () => new Set((await cluster.nodes()).filter((n) => !isReady(n)).map((n) => n.metadata?.name ?? '')),
    node: async (name) => {
      const node = (await cluster.nodes()).find((n) => n.metadata?.name === name);
      return { node, since: sinceOf(`node/${name}`, nodeKey(node)) };
    },
    podsOn: async (names) => {
      const all = await cluster.pods();
      const out = new Map<string, PodsLook>();
      for (const name of names) {
        const pods = all.filter((p) => p.spec?.nodeName === name);
        out.set(name, { pods, since: sinceOf(`pods/${name}`, podsKey(pods)) });
      }
      return out;
    },
    changed: (_name, ms, signal) => clock.sleep(Math.min(ms, pollMs), signal),
    live: () => true,
    onNotReadyChange: () => () => undefined,
  };
}
