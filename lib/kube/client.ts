/**
 * kip's access to the Kubernetes API, only through @kubernetes/client-node (exactly as against a real
 * cluster). A small typed surface: version, nodes, pods (list, get, create, replace, patch, delete,
 * watch), namespaces. Every API failure becomes a KubeApiError with a stable code.
 */
import {
  ApiException,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  VersionApi,
  Watch,
  setHeaderOptions,
  type V1Namespace,
  type V1Node,
  type V1Pod,
} from '@kubernetes/client-node';
import { KipError } from '../errors.ts';
import { parseKubeVersion } from '../knowledge/version.ts';

export type KubePatchType = 'merge' | 'json' | 'strategic';

export class KubeApiError extends KipError {
  /** HTTP status, or 0 when the API was not reached. */
  readonly status: number;
  /** The Status reason (NotFound, Conflict, AlreadyExists, ...), when the server sent one. */
  readonly reason: string | undefined;

  constructor(code: string, message: string, status: number, reason: string | undefined, details: Record<string, unknown>, options?: { cause?: unknown }) {
    super(code, message, { ...details, status, reason }, options);
    this.status = status;
    this.reason = reason;
  }
}

function codeFor(status: number, reason: string | undefined): string {
  if (status === 0) return 'KUBE_UNREACHABLE';
  if (status === 404) return 'KUBE_NOT_FOUND';
  if (status === 409) return reason === 'AlreadyExists' ? 'KUBE_ALREADY_EXISTS' : 'KUBE_CONFLICT';
  if (status === 401) return 'KUBE_UNAUTHORIZED';
  if (status === 403) return 'KUBE_FORBIDDEN';
  if (status === 410) return 'KUBE_GONE';
  if (status === 422) return 'KUBE_INVALID';
  return 'KUBE_API_ERROR';
}

function statusFields(body: unknown): { reason: string | undefined; message: string | undefined } {
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return { reason: undefined, message: body.slice(0, 300) || undefined };
    }
  }
  if (typeof parsed !== 'object' || parsed === null) return { reason: undefined, message: undefined };
  const rec = parsed as Record<string, unknown>;
  return {
    reason: typeof rec.reason === 'string' ? rec.reason : undefined,
    message: typeof rec.message === 'string' ? rec.message : undefined,
  };
}

/** Converts whatever client-node threw into a KubeApiError. */
export function toKubeError(err: unknown, operation: string, details: Record<string, unknown> = {}): KubeApiError {
  if (err instanceof KubeApiError) return err;
  if (err instanceof ApiException) {
    const status = typeof err.code === 'number' ? err.code : 0;
    const { reason, message } = statusFields(err.body);
    return new KubeApiError(codeFor(status, reason), `${operation}: ${message ?? `HTTP ${status}`}`, status, reason, { operation, ...details }, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new KubeApiError('KUBE_UNREACHABLE', `${operation}: ${message}`, 0, undefined, { operation, ...details }, { cause: err });
}

export interface ServerVersionInfo {
  readonly gitVersion: string;
  readonly major: number;
  readonly minor: number;
}

export interface ListOptions {
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
}

export interface PodListOptions extends ListOptions {
  /** All namespaces unless given. */
  readonly namespace?: string;
  readonly resourceVersion?: string;
}

export interface PodList {
  readonly items: V1Pod[];
  readonly resourceVersion: string;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface PodWatchEvent {
  readonly type: WatchEventType;
  /** A pod, or for ERROR the server's Status object. */
  readonly object: V1Pod;
}

export interface WatchHandle {
  /** Ends the watch; `ended` then resolves. */
  stop(): void;
  /** Resolves when the stream ends (server closed it, stop(), or an error: then with that error). */
  readonly ended: Promise<KubeApiError | undefined>;
}

const PATCH_CONTENT_TYPES: Readonly<Record<KubePatchType, string>> = {
  merge: PatchStrategy.MergePatch,
  json: PatchStrategy.JsonPatch,
  strategic: PatchStrategy.StrategicMergePatch,
};

const WATCH_TYPES = new Set<string>(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR']);

export class KubeClient {
  readonly config: KubeConfig;
  private readonly core: CoreV1Api;
  private readonly versionApi: VersionApi;

  constructor(config: KubeConfig) {
    this.config = config;
    this.core = config.makeApiClient(CoreV1Api);
    this.versionApi = config.makeApiClient(VersionApi);
  }

  static fromFile(path: string, context?: string): KubeClient {
    const kc = new KubeConfig();
    try {
      kc.loadFromFile(path);
    } catch (cause) {
      throw new KubeApiError('KUBE_BAD_KUBECONFIG', `cannot load kubeconfig ${path}: ${cause instanceof Error ? cause.message : String(cause)}`, 0, undefined, { path }, { cause });
    }
    if (context) kc.setCurrentContext(context);
    return new KubeClient(kc);
  }

  /** From kubeconfig YAML/JSON text. */
  static fromString(text: string): KubeClient {
    const kc = new KubeConfig();
    try {
      kc.loadFromString(text);
    } catch (cause) {
      throw new KubeApiError('KUBE_BAD_KUBECONFIG', `cannot parse kubeconfig: ${cause instanceof Error ? cause.message : String(cause)}`, 0, undefined, {}, { cause });
    }
    return new KubeClient(kc);
  }

  private async call<T>(operation: string, details: Record<string, unknown>, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toKubeError(err, operation, details);
    }
  }

  async getVersion(): Promise<ServerVersionInfo> {
    const v = await this.call('get version', {}, () => this.versionApi.getCode());
    const parsed = parseKubeVersion(v.gitVersion, 'the apiserver\'s gitVersion');
    return { gitVersion: v.gitVersion, major: parsed.major, minor: parsed.minor };
  }

  /** Every Node with the list's resourceVersion (where a watch starts from). */
  async listNodesAt(options: ListOptions = {}): Promise<{ items: V1Node[]; resourceVersion: string }> {
    const list = await this.call('list nodes', {}, () => this.core.listNode({ labelSelector: options.labelSelector, fieldSelector: options.fieldSelector }));
    return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
  }

  async listNodes(options: ListOptions = {}): Promise<V1Node[]> {
    const list = await this.call('list nodes', {}, () => this.core.listNode({ labelSelector: options.labelSelector, fieldSelector: options.fieldSelector }));
    return list.items;
  }

  getNode(name: string): Promise<V1Node> {
    return this.call('get node', { name }, () => this.core.readNode({ name }));
  }

  createNode(node: V1Node): Promise<V1Node> {
    return this.call('create node', { name: node.metadata?.name }, () => this.core.createNode({ body: node }));
  }

  patchNode(name: string, patch: object, type: KubePatchType = 'strategic'): Promise<V1Node> {
    return this.call('patch node', { name }, () => this.core.patchNode({ name, body: patch }, setHeaderOptions('Content-Type', PATCH_CONTENT_TYPES[type])));
  }

  patchNodeStatus(name: string, patch: object, type: KubePatchType = 'strategic'): Promise<V1Node> {
    return this.call('patch node status', { name }, () => this.core.patchNodeStatus({ name, body: patch }, setHeaderOptions('Content-Type', PATCH_CONTENT_TYPES[type])));
  }

  deleteNode(name: string): Promise<void> {
    return this.call('delete node', { name }, async () => {
      await this.core.deleteNode({ name });
    });
  }

  async listPods(options: PodListOptions = {}): Promise<PodList> {
    const q = { labelSelector: options.labelSelector, fieldSelector: options.fieldSelector, resourceVersion: options.resourceVersion };
    const list = await this.call('list pods', { namespace: options.namespace }, () =>
      options.namespace ? this.core.listNamespacedPod({ namespace: options.namespace, ...q }) : this.core.listPodForAllNamespaces(q));
    return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
  }

  getPod(namespace: string, name: string): Promise<V1Pod> {
    return this.call('get pod', { namespace, name }, () => this.core.readNamespacedPod({ namespace, name }));
  }

  createPod(namespace: string, pod: V1Pod): Promise<V1Pod> {
    return this.call('create pod', { namespace, name: pod.metadata?.name }, () => this.core.createNamespacedPod({ namespace, body: pod }));
  }

  /** PUT: a stale metadata.resourceVersion fails with KUBE_CONFLICT. */
  replacePod(namespace: string, name: string, pod: V1Pod): Promise<V1Pod> {
    return this.call('replace pod', { namespace, name }, () => this.core.replaceNamespacedPod({ namespace, name, body: pod }));
  }

  patchPod(namespace: string, name: string, patch: object, type: KubePatchType = 'strategic'): Promise<V1Pod> {
    return this.call('patch pod', { namespace, name }, () =>
      this.core.patchNamespacedPod({ namespace, name, body: patch }, setHeaderOptions('Content-Type', PATCH_CONTENT_TYPES[type])));
  }

  /** Patches the pod's status subresource (no admission runs on subresources). */
  patchPodStatus(namespace: string, name: string, patch: object, type: KubePatchType = 'strategic'): Promise<V1Pod> {
    return this.call('patch pod status', { namespace, name }, () =>
      this.core.patchNamespacedPodStatus({ namespace, name, body: patch }, setHeaderOptions('Content-Type', PATCH_CONTENT_TYPES[type])));
  }

  /**
   * Sets (string) or removes (null) pod labels with a merge patch. With resourceVersion, the patch
   * only applies to that version of the pod (else KUBE_CONFLICT). This is how kip "touches" old pods
   * so that DefaultTolerationSeconds admission runs on them again.
   */
  patchPodLabels(namespace: string, name: string, labels: Readonly<Record<string, string | null>>, options: { resourceVersion?: string } = {}): Promise<V1Pod> {
    const metadata: Record<string, unknown> = { labels };
    if (options.resourceVersion) metadata.resourceVersion = options.resourceVersion;
    return this.patchPod(namespace, name, { metadata }, 'merge');
  }

  deletePod(namespace: string, name: string): Promise<void> {
    return this.call('delete pod', { namespace, name }, async () => {
      await this.core.deleteNamespacedPod({ namespace, name });
    });
  }

  createNamespace(name: string): Promise<V1Namespace> {
    return this.call('create namespace', { name }, () => this.core.createNamespace({ body: { metadata: { name } } }));
  }

  /**
   * Watches pods (one namespace or all) from resourceVersion (or from "now, with the current pods
   * as ADDED" when absent). Resolves once the server accepted the watch.
   */
  watchPods(options: PodListOptions, onEvent: (event: PodWatchEvent) => void): Promise<WatchHandle> {
    const path = options.namespace ? `/api/v1/namespaces/${encodeURIComponent(options.namespace)}/pods` : '/api/v1/pods';
    return this.watchPath('watch pods', { namespace: options.namespace }, path, options, (type, object) => onEvent({ type, object: object as V1Pod }));
  }

  /** Watches Nodes from resourceVersion, as watchPods does pods. */
  watchNodes(options: ListOptions & { readonly resourceVersion?: string }, onEvent: (type: WatchEventType, object: unknown) => void): Promise<WatchHandle> {
    return this.watchPath('watch nodes', {}, '/api/v1/nodes', options, onEvent);
  }

  /**
   * A watch of one collection. A watch the server refuses (a non-200 answer, e.g. 410 Gone for a
   * resourceVersion too old) ends with a KubeApiError carrying that status; client-node reports
   * it as a plain Error with statusCode.
   */
  private async watchPath(operation: string, details: Record<string, unknown>, path: string, options: ListOptions & { readonly resourceVersion?: string }, onEvent: (type: WatchEventType, object: unknown) => void): Promise<WatchHandle> {
    const query: Record<string, string> = {};
    if (options.labelSelector) query.labelSelector = options.labelSelector;
    if (options.fieldSelector) query.fieldSelector = options.fieldSelector;
    if (options.resourceVersion) query.resourceVersion = options.resourceVersion;
    let resolveEnded: (e: KubeApiError | undefined) => void = () => undefined;
    const ended = new Promise<KubeApiError | undefined>((r) => {
      resolveEnded = r;
    });
    let stopped = false;
    const controller = await this.call(operation, details, () =>
      new Watch(this.config).watch(path, query, (phase: string, obj: unknown) => {
        if (!stopped && WATCH_TYPES.has(phase)) onEvent(phase as WatchEventType, obj);
      }, (err: unknown) => {
        if (!err || stopped || (err instanceof Error && err.name === 'AbortError')) return resolveEnded(undefined);
        const status = typeof (err as { statusCode?: unknown }).statusCode === 'number' ? (err as { statusCode: number }).statusCode : 0;
        resolveEnded(status > 0
          ? new KubeApiError(codeFor(status, undefined), `${operation}: HTTP ${status} ${err instanceof Error ? err.message : ''}`.trim(), status, undefined, { operation, ...details }, { cause: err })
          : toKubeError(err, operation, details));
      }));
    return {
      stop: () => {
        stopped = true;
        controller.abort();
        resolveEnded(undefined);
      },
      ended,
    };
  }
}
