/**
 * The lab scheduler's and controller-manager's only way to the apiserver: kip's KubeClient
 * (lib/kube) plus the two calls it lacks (pods/binding, events), all through
 * @kubernetes/client-node with the component's kubeconfig. Failures are KubeApiErrors (stable codes).
 */
import { CoreV1Api, type CoreV1Event, type V1Node, type V1Pod } from '@kubernetes/client-node';
import { KubeClient, toKubeError, type KubePatchType, type PodWatchEvent, type WatchHandle } from '../../../lib/kube/index.ts';

export interface EventSpec {
  /** Namespace of the Event: the pod's, or "default" for cluster-scoped objects such as nodes. */
  readonly namespace: string;
  readonly involved: { readonly kind: 'Pod' | 'Node'; readonly name: string; readonly namespace?: string; readonly uid?: string };
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
  /** source.component, e.g. default-scheduler, node-controller, taint-controller. */
  readonly component: string;
}

export interface ControlPlaneApi {
  listNodes(): Promise<V1Node[]>;
  listPods(fieldSelector?: string): Promise<V1Pod[]>;
  /** POST /api/v1/namespaces/<ns>/pods/<name>/binding */
  bindPod(namespace: string, name: string, uid: string, node: string): Promise<void>;
  patchPodStatus(namespace: string, name: string, patch: object, type?: KubePatchType): Promise<void>;
  patchNodeStatus(name: string, patch: object, type?: KubePatchType): Promise<void>;
  patchNode(name: string, patch: object, type?: KubePatchType): Promise<void>;
  deletePod(namespace: string, name: string): Promise<void>;
  createEvent(event: EventSpec, nowMs: number): Promise<void>;
  watchPods(fieldSelector: string | undefined, onEvent: (e: PodWatchEvent) => void): Promise<WatchHandle>;
}

export function controlPlaneApi(client: KubeClient): ControlPlaneApi {
  const core = client.config.makeApiClient(CoreV1Api);
  return {
    listNodes: () => client.listNodes(),
    listPods: async (fieldSelector) => (await client.listPods(fieldSelector ? { fieldSelector } : {})).items,
    bindPod: async (namespace, name, uid, node) => {
      try {
        await core.createNamespacedPodBinding({
          namespace,
          name,
          body: { apiVersion: 'v1', kind: 'Binding', metadata: { name, namespace, uid }, target: { apiVersion: 'v1', kind: 'Node', name: node } },
        });
      } catch (err) {
        throw toKubeError(err, 'bind pod', { namespace, name, node });
      }
    },
    patchPodStatus: async (namespace, name, patch, type = 'strategic') => {
      await client.patchPodStatus(namespace, name, patch, type);
    },
    patchNodeStatus: async (name, patch, type = 'strategic') => {
      await client.patchNodeStatus(name, patch, type);
    },
    patchNode: async (name, patch, type = 'merge') => {
      await client.patchNode(name, patch, type);
    },
    deletePod: (namespace, name) => client.deletePod(namespace, name),
    createEvent: async (e, nowMs) => {
      const now = new Date(nowMs);
      // The event recorder names events <object>.<unix nanoseconds in hex> (client-go tools/record).
      const name = `${e.involved.name}.${(BigInt(nowMs) * 1_000_000n + BigInt(Math.floor(Math.random() * 1e6))).toString(16)}`;
      const body: CoreV1Event = {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace: e.namespace },
        involvedObject: { apiVersion: 'v1', kind: e.involved.kind, name: e.involved.name, namespace: e.involved.namespace, uid: e.involved.uid },
        reason: e.reason,
        message: e.message,
        type: e.type,
        source: { component: e.component },
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      };
      try {
        await core.createNamespacedEvent({ namespace: e.namespace, body });
      } catch (err) {
        throw toKubeError(err, 'create event', { reason: e.reason, object: e.involved.name });
      }
    },
    watchPods: (fieldSelector, onEvent) => client.watchPods(fieldSelector ? { fieldSelector } : {}, onEvent),
  };
}
