/** The ClusterApi port over lib/kube: the typed client for objects, the raw one for exact pod bytes and the lock. */
import { KubeClient } from '../lib/kube/index.ts';
import { kubeRestFromKubeconfig, RawKubeApiError, type KubeRest } from '../lib/kube/raw.ts';
import { InvalidInputError } from '../lib/errors.ts';
import { existsSync } from 'node:fs';
import type { KubeOptions } from './commands/common.ts';
import { kubeClusterLock } from './lock/kube-lock.ts';
import type { ClusterApi } from './ports.ts';
import { appliedApiVersion, type ListServed, type LiveObject } from './plan/live-objects.ts';
import { nodesListWatch, podsListWatch } from '../lib/kube/list-watch.ts';
import { systemClock, type Clock } from '../lib/clock.ts';
import { silentLogger, type Logger } from '../lib/logger.ts';
import { openClusterCache } from './cluster-cache.ts';

interface ListedItem { metadata?: { namespace?: string; name?: string; annotations?: Record<string, string> } }

/** 404 on the group/version or the resource means "not served": the plan reports, it does not fail. */
function listServedOver(rest: KubeRest): ListServed {
  return async (groupVersion, resource) => {
    const prefix = groupVersion.includes('/') ? `/apis/${groupVersion}` : `/api/${groupVersion}`;
    try {
      const { value } = await rest.get(`${prefix}/${resource}`);
      const items = ((value as { items?: ListedItem[] }).items ?? []);
      return items.map((i): LiveObject => ({ namespace: i.metadata?.namespace ?? '', name: i.metadata?.name ?? '', appliedAs: appliedApiVersion(i.metadata?.annotations) }));
    } catch (e) {
      if (e instanceof RawKubeApiError && e.status === 404) return undefined;
      throw e;
    }
  };
}

interface KubernetesEndpoints { subsets?: { addresses?: { ip?: string }[]; ports?: { name?: string; port?: number }[] }[] }

/** https://ip:port per address of the kubernetes service's endpoints (its "https" port, else the first). */
export function apiserverUrlsOf(e: KubernetesEndpoints): string[] {
  const out: string[] = [];
  for (const s of e.subsets ?? []) {
    const port = (s.ports ?? []).find((p) => p.name === 'https')?.port ?? s.ports?.[0]?.port;
    if (!port) continue;
    for (const a of s.addresses ?? []) if (a.ip) out.push(`https://${a.ip.includes(':') ? `[${a.ip}]` : a.ip}:${port}`);
  }
  return [...new Set(out)].sort();
}

export async function kubeCluster(options: KubeOptions, deps: { readonly clock?: Clock; readonly logger?: Logger } = {}): Promise<ClusterApi> {
  if (!existsSync(options.kubeconfig)) {
    throw new InvalidInputError('KUBECONFIG_MISSING', `kubeconfig ${options.kubeconfig} does not exist: pass --kubeconfig or set KUBECONFIG`, { path: options.kubeconfig });
  }
  const kube = KubeClient.fromFile(options.kubeconfig, options.context);
  const rest = await kubeRestFromKubeconfig(options.kubeconfig, 30_000, options.context);
  return {
    server: kube.config.getCurrentCluster()?.server ?? options.kubeconfig,
    version: async () => (await kube.getVersion()).gitVersion,
    nodes: () => kube.listNodes(),
    pods: async () => (await kube.listPods()).items,
    podTree: async () => (await rest.get('/api/v1/pods')).node,
    annotateNode: async (name, annotations) => {
      await kube.patchNode(name, { metadata: { annotations } }, 'merge');
    },
    annotatePod: async (namespace, name, annotations) => {
      await kube.patchPod(namespace, name, { metadata: { annotations } }, 'merge');
    },
    apiserverStatus: async (url, healthPath) => {
      const r = url ? await kubeRestFromKubeconfig(options.kubeconfig, 10_000, options.context, url) : rest;
      const health = await r.probe(healthPath);
      const version = await r.probe('/version');
      const gitVersion = version.status === 200 ? (JSON.parse(version.text) as { gitVersion?: string }).gitVersion ?? '' : '';
      return { ready: health.status === 200, version: gitVersion };
    },
    labelNode: async (name, labels) => {
      await kube.patchNode(name, { metadata: { labels } }, 'merge');
    },
    nodeEvent: async (node, type, reason, message) => {
      const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
      await rest.send('POST', '/api/v1/namespaces/default/events', {
        apiVersion: 'v1', kind: 'Event',
        metadata: { generateName: `${node}.kip-`, namespace: 'default' },
        involvedObject: { kind: 'Node', name: node, uid: node, apiVersion: 'v1' },
        reason, message, type, source: { component: 'kip' }, firstTimestamp: now, lastTimestamp: now, count: 1,
      });
    },
    lock: kubeClusterLock(rest),
    listServed: listServedOver(rest),
    openView: () => openClusterCache({ nodes: nodesListWatch(kube), pods: podsListWatch(kube) }, { clock: deps.clock ?? systemClock, logger: deps.logger ?? silentLogger() }),
    apiserverEndpoints: async () => {
      const { value } = await rest.get('/api/v1/namespaces/default/endpoints/kubernetes');
      return apiserverUrlsOf(value as KubernetesEndpoints);
    },
  };
}
