/**
 * Docker's event stream (GET /events, Docker Engine API 1.24: newline-delimited JSON messages with
 * Type, Action, Actor.ID and Actor.Attributes holding the container's name and labels; docs.docker.com
 * engine/api/v1.24 "Monitor Docker's events"), filtered to what the node watcher cares about: the
 * create/start/die/destroy of containers dockershim made (name k8s_..., pkg/kubelet/dockershim/naming.go).
 * The node watcher uses these only to poll at once instead of at its next tick: the polled snapshot
 * stays the one source of truth, so a lost or malformed event costs latency, never correctness.
 */
import { request, type IncomingMessage } from 'node:http';
import { DOCKER_API_VERSION, DockerError } from './docker.ts';

export interface DockerContainerEvent {
  readonly action: string;
  readonly id: string;
  readonly name: string;
  /** Nanoseconds since the epoch (timeNano), 0n when absent. */
  readonly timeNs: bigint;
}

export const WATCHED_ACTIONS = ['create', 'start', 'die', 'destroy'] as const;

/** One message of the stream, or undefined when it is not a k8s_ container event we watch. */
export function parseDockerEvent(line: string): DockerContainerEvent | undefined {
  let m: unknown;
  try {
    m = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (m === null || typeof m !== 'object') return undefined;
  const o = m as { Type?: unknown; Action?: unknown; Actor?: { ID?: unknown; Attributes?: Record<string, unknown> }; timeNano?: unknown };
  const action = typeof o.Action === 'string' ? o.Action : '';
  const name = typeof o.Actor?.Attributes?.name === 'string' ? o.Actor.Attributes.name : '';
  if (o.Type !== 'container' || !(WATCHED_ACTIONS as readonly string[]).includes(action) || !name.replace(/^\//, '').startsWith('k8s_')) return undefined;
  return { action, id: typeof o.Actor?.ID === 'string' ? o.Actor.ID : '', name: name.replace(/^\//, ''), timeNs: typeof o.timeNano === 'number' ? BigInt(Math.trunc(o.timeNano)) : 0n };
}

/** Follows dockerd's events until `signal` aborts (then returns) or the stream fails (then throws DOCKER_UNAVAILABLE / DOCKER_API_ERROR). */
export async function* dockerEvents(socket: string, signal: AbortSignal): AsyncGenerator<DockerContainerEvent> {
  const socketPath = socket.startsWith('unix://') ? socket.slice('unix://'.length) : socket;
  const filters = JSON.stringify({ type: ['container'], event: [...WATCHED_ACTIONS] });
  const path = `/v${DOCKER_API_VERSION}/events?filters=${encodeURIComponent(filters)}`;
  if (signal.aborted) return;
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = request({ socketPath, path, method: 'GET', headers: { Host: 'docker' }, signal }, resolve);
    req.on('error', (err) => reject(signal.aborted ? Object.assign(new Error('aborted'), { aborted: true }) : new DockerError('DOCKER_UNAVAILABLE', `dockerd at ${socketPath}: events: ${err.message}`, { socketPath }, { cause: err })));
    req.end();
  }).catch((err: unknown) => {
    if (signal.aborted) return undefined;
    throw err;
  });
  if (!res) return;
  if ((res.statusCode ?? 0) !== 200) {
    res.resume();
    throw new DockerError('DOCKER_API_ERROR', `GET ${path}: HTTP ${res.statusCode ?? 0}`, { path, statusCode: res.statusCode ?? 0 });
  }
  let buffered = '';
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      buffered += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        const e = line ? parseDockerEvent(line) : undefined;
        if (e) yield e;
      }
    }
  } catch (err) {
    if (signal.aborted) return;
    throw new DockerError('DOCKER_UNAVAILABLE', `dockerd at ${socketPath}: the event stream broke: ${err instanceof Error ? err.message : String(err)}`, { socketPath }, { cause: err });
  }
  if (!signal.aborted) throw new DockerError('DOCKER_UNAVAILABLE', `dockerd at ${socketPath} ended the event stream`, { socketPath });
}
