/**
 * containerd's own event service (containerd.services.events.v1.Events/Subscribe, served on the
 * same socket as CRI; proto/containerd/), filtered to the k8s.io namespace (where containerd's CRI
 * plugin keeps the kubelet's containers and sandboxes) and to the topics that change what CRI
 * ListContainers / ListPodSandboxes show. containerd 1.6 has no CRI GetContainerEvents (issue 11),
 * so this is the only push signal on a containerd node.
 *
 * Like Docker's /events (./docker-events.ts) it only wakes the node watcher: the polled snapshot
 * stays the one source of truth, so a lost or malformed event costs latency, never correctness.
 */
import { randomUUID } from 'node:crypto';
import { Client, credentials, Metadata, status as GrpcStatus, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import { KipError } from '../../lib/errors.ts';
import { containerdEventTypes, loadContainerdEventsDefinition } from '../../proto/containerd/loader.ts';
import type { Envelope__Output } from '../../proto/containerd/generated/containerd/services/events/v1/Envelope.ts';
import type { SubscribeRequest } from '../../proto/containerd/generated/containerd/services/events/v1/SubscribeRequest.ts';
import type { PublishRequest } from '../../proto/containerd/generated/containerd/services/events/v1/PublishRequest.ts';
import type { Empty__Output } from '../../proto/containerd/generated/containerd/services/events/v1/Empty.ts';
import { normalizeCriAddress } from './cri.ts';

/** containerd's CRI plugin namespace (pkg/cri/constants: K8sContainerdNamespace = "k8s.io"). */
export const K8S_NAMESPACE = 'k8s.io';

/**
 * Topics containerd 1.6.20 publishes for what CRI lists: a container record made or removed
 * (services/containers/local.go: "/containers/create", "/containers/delete") and a task started,
 * exited or deleted (runtime/events.go: TaskStartEventTopic, TaskExitEventTopic,
 * TaskDeleteEventTopic). The CRI plugin updates its own store only after these (pkg/cri/server
 * events.go handleContainerExit deletes the task, then UpdateSync's the exit), so a poll right
 * at the event can still show the old state: the watcher polls again shortly after a wake that
 * showed no change yet (agent/watch/node-watcher.ts).
 */
export const WATCHED_TOPICS = ['/tasks/start', '/tasks/exit', '/tasks/delete', '/containers/create', '/containers/delete'] as const;
export type WatchedTopic = (typeof WATCHED_TOPICS)[number];

/**
 * One filter per topic; containerd sends an event matching ANY filter ("filters are any match",
 * pkg/cri/server/events.go), and a filter's comma-separated selectors must ALL match
 * (filters/filter.go). The quoted value form is the CRI plugin's own (`topic=="/tasks/oom"`).
 */
export function subscribeFilters(namespace = K8S_NAMESPACE): string[] {
  return [...WATCHED_TOPICS.map((t) => `namespace==${namespace},topic=="${t}"`), `namespace==${PROBE_NAMESPACE},topic=="${PROBE_TOPIC}"`];
}

/**
 * The agent's own probe: published (Events.Publish) after subscribing, until it comes back on the
 * stream. containerd's Subscribe sends nothing (not even headers) before the first event, so only
 * an event of our own proves the subscription is registered: from then on every change CRI can
 * list comes with an event, and the node watcher may skip listing while none came. Its own
 * namespace (identifiers.Validate: letters, digits, '-'), so no k8s.io subscriber sees it.
 */
export const PROBE_NAMESPACE = 'kip-agent-probe';
export const PROBE_TOPIC = '/kip/probe';
const PROBE_TYPE_URL = 'kip.agent.Probe';
/** Yielded once per stream, when the probe came back: the stream is live. */
export const STREAM_LIVE: unique symbol = Symbol('containerd event stream live');
const PROBE_EVERY_MS = 1_000;
const PROBES = 10;

export interface ContainerdEvent {
  readonly topic: WatchedTopic;
  readonly namespace: string;
  /** The container (CRI container or sandbox id); '' when the payload could not be decoded. */
  readonly containerId: string;
  /** /tasks/exit and /tasks/delete. */
  readonly exitStatus?: number;
  /** The envelope's timestamp, nanoseconds since the epoch (0n when absent). */
  readonly timeNs: bigint;
}

/** The payload's full name for each topic (typeurl.MarshalAny's type_url is the message name). */
const PAYLOAD: Readonly<Record<WatchedTopic, string>> = {
  '/tasks/start': 'containerd.events.TaskStart',
  '/tasks/exit': 'containerd.events.TaskExit',
  '/tasks/delete': 'containerd.events.TaskDelete',
  '/containers/create': 'containerd.events.ContainerCreate',
  '/containers/delete': 'containerd.events.ContainerDelete',
};

const isWatched = (t: string): t is WatchedTopic => (WATCHED_TOPICS as readonly string[]).includes(t);

/**
 * One Envelope as the watcher sees it, or undefined when it is not a watched topic of `namespace`.
 * A payload that does not decode still yields the event (with containerId ''): the wake is what
 * counts, the id is for the log.
 */
export function decodeEnvelope(env: Envelope__Output, namespace = K8S_NAMESPACE): ContainerdEvent | undefined {
  if (env.namespace !== namespace || !isWatched(env.topic)) return undefined;
  const ts = env.timestamp;
  const timeNs = ts ? BigInt(Math.trunc(ts.seconds)) * 1_000_000_000n + BigInt(Math.trunc(ts.nanos)) : 0n;
  const base = { topic: env.topic, namespace: env.namespace, timeNs };
  const any = env.event;
  const want = PAYLOAD[env.topic];
  // type_url is "containerd.events.TaskExit" (or with a "host/" prefix, as google's Any allows).
  if (!any || any.typeUrl.slice(any.typeUrl.lastIndexOf('/') + 1) !== want) return { ...base, containerId: '' };
  let o: Record<string, unknown>;
  try {
    const type = containerdEventTypes().lookupType(want);
    o = type.toObject(type.decode(any.value), { longs: Number, defaults: true }) as Record<string, unknown>;
  } catch {
    return { ...base, containerId: '' };
  }
  const id = typeof o.containerId === 'string' ? o.containerId : typeof o.id === 'string' ? o.id : '';
  const exit = typeof o.exitStatus === 'number' && (env.topic === '/tasks/exit' || env.topic === '/tasks/delete') ? { exitStatus: o.exitStatus } : {};
  return { ...base, containerId: id, ...exit };
}

export type ContainerdEventsErrorCode = 'CONTAINERD_EVENTS_UNAVAILABLE' | 'CONTAINERD_EVENTS_ENDED';

export class ContainerdEventsError extends KipError {
  declare readonly code: ContainerdEventsErrorCode;
  constructor(code: ContainerdEventsErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(code, message, details, options);
  }
}

function method<Req, Res>(name: 'Subscribe' | 'Publish'): MethodDefinition<Req, Res> {
  const svc = loadContainerdEventsDefinition()['containerd.services.events.v1.Events'];
  const m = svc && name in svc ? (svc as Record<string, unknown>)[name] : undefined;
  if (!m) throw new KipError('CONTAINERD_PROTO_INVALID', `Events.${name} missing from proto/containerd/events.proto`);
  return m as MethodDefinition<Req, Res>;
}
let subscribeMethod: MethodDefinition<SubscribeRequest, Envelope__Output> | undefined;
function subscribeDefinition(): MethodDefinition<SubscribeRequest, Envelope__Output> {
  subscribeMethod ??= method('Subscribe');
  return subscribeMethod;
}
let publishMethod: MethodDefinition<PublishRequest, Empty__Output> | undefined;
function publishDefinition(): MethodDefinition<PublishRequest, Empty__Output> {
  publishMethod ??= method('Publish');
  return publishMethod;
}

function publishProbe(client: Client, nonce: string): Promise<void> {
  const def = publishDefinition();
  const md = new Metadata();
  // containerd takes the namespace of a published event from this header (namespaces/grpc.go).
  md.set('containerd-namespace', PROBE_NAMESPACE);
  return new Promise<void>((resolve, reject) => {
    client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, { topic: PROBE_TOPIC, event: { typeUrl: PROBE_TYPE_URL, value: Buffer.from(nonce) } }, md, { deadline: Date.now() + 5_000 }, (err) => (err ? reject(err) : resolve()));
  });
}

/** An Envelope off the wire (what the Subscribe stream's deserializer makes of one message). */
export function deserializeEnvelope(bytes: Buffer): Envelope__Output {
  return subscribeDefinition().responseDeserialize(bytes);
}

/**
 * Follows containerd's events at `address` (unix:///run/containerd/containerd.sock) until `signal`
 * aborts (then returns) or the stream fails or ends (then throws ContainerdEventsError): the
 * caller resubscribes with backoff (NodeWatcher's wake loop).
 */
export async function* containerdEvents(address: string, signal: AbortSignal, namespace = K8S_NAMESPACE): AsyncGenerator<ContainerdEvent | typeof STREAM_LIVE> {
  if (signal.aborted) return;
  const target = normalizeCriAddress(address);
  const def = subscribeDefinition();
  const client = new Client(target, credentials.createInsecure(), { 'grpc.enable_retries': 0 });
  const call: ClientReadableStream<Envelope__Output> = client.makeServerStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, { filters: subscribeFilters(namespace) }, new Metadata());
  const stop = (): void => call.cancel();
  signal.addEventListener('abort', stop, { once: true });
  const nonce = randomUUID();
  let live = false;
  const probing = new AbortController();
  // A failing Publish only means the stream is never called live (no list is skipped).
  void (async () => {
    for (let i = 0; i < PROBES && !live && !probing.signal.aborted; i++) {
      await publishProbe(client, nonce).catch(() => undefined);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, PROBE_EVERY_MS);
        probing.signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
      });
    }
  })();
  try {
    for await (const env of call as AsyncIterable<Envelope__Output>) {
      if (env.namespace === PROBE_NAMESPACE) {
        if (!live && env.topic === PROBE_TOPIC && env.event?.value.toString() === nonce) {
          live = true;
          probing.abort();
          yield STREAM_LIVE;
        }
        continue;
      }
      const e = decodeEnvelope(env, namespace);
      if (e) yield e;
    }
  } catch (err) {
    if (signal.aborted) return;
    const se = err as Partial<ServiceError>;
    throw new ContainerdEventsError('CONTAINERD_EVENTS_UNAVAILABLE', `containerd at ${target}: the event stream failed: ${se.details ?? (err instanceof Error ? err.message : String(err))}`, { address: target, grpcCode: se.code ?? GrpcStatus.UNKNOWN }, { cause: err });
  } finally {
    probing.abort();
    signal.removeEventListener('abort', stop);
    call.cancel();
    client.close();
  }
  if (!signal.aborted) throw new ContainerdEventsError('CONTAINERD_EVENTS_ENDED', `containerd at ${target} ended the event stream`, { address: target });
}
