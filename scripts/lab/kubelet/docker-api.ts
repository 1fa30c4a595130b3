/**
 * The Docker Engine API calls that change things, for the lab kubelet's dockershim backend
 * (dockershim.ts): create, start, stop and remove a container. The agent only ever reads Docker
 * (agent/runtime/docker.ts), so the write side lives here, with the lab. JSON over dockerd's unix
 * socket (node:http with socketPath), API version DOCKER_API_VERSION like the reader.
 */
import { request } from 'node:http';
import { DOCKER_API_VERSION, DockerError } from '../../../agent/runtime/docker.ts';
import { InvalidInputError } from '../../../lib/errors.ts';

/** The subset of POST /containers/create the lab uses (docs.docker.com/engine/api/v1.24, ContainerCreate). */
export interface DockerCreateBody {
  readonly Image: string;
  readonly Hostname?: string;
  readonly Entrypoint?: readonly string[];
  readonly Cmd?: readonly string[];
  readonly Env?: readonly string[];
  readonly WorkingDir?: string;
  readonly Labels: Readonly<Record<string, string>>;
  readonly HostConfig: {
    readonly NetworkMode: string;
    readonly IpcMode?: string;
    readonly PidMode?: string;
    readonly Binds?: readonly string[];
    readonly CgroupParent?: string;
  };
}

export interface DockerWriter {
  /** The new container's id; a name already taken is DOCKER_CONFLICT (HTTP 409). */
  createContainer(name: string, body: DockerCreateBody): Promise<string>;
  startContainer(id: string): Promise<void>;
  /** Stops with SIGTERM, SIGKILL after timeoutSeconds; a container already stopped is fine (304). */
  stopContainer(id: string, timeoutSeconds: number): Promise<void>;
  /** Removes the container (force: a running one too); one already gone is fine. */
  removeContainer(id: string, force: boolean): Promise<void>;
}

/** Docker answered 409: the name is in use (dockershim's "Conflict. The name ... is already in use"). */
export class DockerConflictError extends DockerError {
  constructor(message: string, details: Record<string, unknown>) {
    super('DOCKER_API_ERROR', message, details);
  }
}

interface Reply {
  readonly status: number;
  readonly body: unknown;
}

export function createDockerWriter(options: { readonly socketPath: string; readonly timeoutMs?: number }): DockerWriter {
  const socketPath = options.socketPath.startsWith('unix://') ? options.socketPath.slice('unix://'.length) : options.socketPath;
  if (!socketPath.startsWith('/')) throw new InvalidInputError('DOCKER_BAD_ADDRESS', `Docker socket must be an absolute path, got ${JSON.stringify(options.socketPath)}`);
  const timeoutMs = options.timeoutMs ?? 60_000;

  const call = (method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<Reply> => {
    const fullPath = `/v${DOCKER_API_VERSION}${path}`;
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { Host: 'docker', Accept: 'application/json' };
      if (payload) {
        headers['Content-Type'] = 'application/json';
        headers['Content-Length'] = payload.length;
      }
      const req = request({ socketPath, path: fullPath, method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => reject(new DockerError('DOCKER_UNAVAILABLE', `${method} ${fullPath}: ${err.message}`, { path: fullPath }, { cause: err })));
        res.on('end', () => {
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text === '' ? undefined : JSON.parse(text);
          } catch {
            // plain-text error bodies are kept as text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      });
      const timer = setTimeout(() => req.destroy(new DockerError('DOCKER_TIMEOUT', `${method} ${fullPath} exceeded ${timeoutMs} ms`, { path: fullPath, timeoutMs })), timeoutMs);
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err instanceof DockerError ? err : new DockerError('DOCKER_UNAVAILABLE', `dockerd at ${socketPath} unavailable: ${err.message}`, { socketPath }, { cause: err }));
      });
      req.end(payload);
    });
  };

  const fail = (what: string, r: Reply, path: string): DockerError => {
    const message = typeof r.body === 'object' && r.body !== null && 'message' in r.body && typeof r.body.message === 'string' ? r.body.message : String(r.body ?? '');
    if (r.status === 404) return new DockerError('DOCKER_NOT_FOUND', `${what}: ${message}`, { path, statusCode: r.status });
    if (r.status === 409) return new DockerConflictError(`${what}: ${message}`, { path, statusCode: r.status });
    return new DockerError('DOCKER_API_ERROR', `${what}: HTTP ${r.status}: ${message}`, { path, statusCode: r.status });
  };
  const checkId = (id: string): string => {
    if (!/^[A-Za-z0-9_.-]+$/.test(id)) throw new InvalidInputError('DOCKER_BAD_ID', `bad container id ${JSON.stringify(id)}`);
    return encodeURIComponent(id);
  };

  return {
    async createContainer(name, body) {
      const path = `/containers/create?name=${encodeURIComponent(name)}`;
      const r = await call('POST', path, body);
      if (r.status !== 201) throw fail(`creating container ${name}`, r, path);
      const id = typeof r.body === 'object' && r.body !== null && 'Id' in r.body && typeof r.body.Id === 'string' ? r.body.Id : '';
      if (id === '') throw new DockerError('DOCKER_BAD_RESPONSE', `creating container ${name}: no Id in the answer`, { path });
      return id;
    },
    async startContainer(id) {
      const path = `/containers/${checkId(id)}/start`;
      const r = await call('POST', path);
      if (r.status !== 204 && r.status !== 304) throw fail(`starting container ${id}`, r, path);
    },
    async stopContainer(id, timeoutSeconds) {
      const path = `/containers/${checkId(id)}/stop?t=${Math.max(0, Math.floor(timeoutSeconds))}`;
      const r = await call('POST', path);
      if (r.status !== 204 && r.status !== 304) throw fail(`stopping container ${id}`, r, path);
    },
    async removeContainer(id, force) {
      const path = `/containers/${checkId(id)}?v=1${force ? '&force=1' : ''}`;
      const r = await call('DELETE', path);
      if (r.status !== 204 && r.status !== 404) throw fail(`removing container ${id}`, r, path);
    },
  };
}
