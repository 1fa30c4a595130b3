/**
 * Docker Engine API reader over dockerd's unix socket (node:http with socketPath), for clusters
 * whose kubelets still run dockershim (the v1.10-era default). dockershim stores the kubelet's CRI
 * labels as Docker labels and its CRI annotations as Docker labels prefixed "annotation.", and
 * names containers k8s_<container>_<pod>_<namespace>_<uid>_<attempt>; dockershimReader() turns
 * that back into the RuntimeReader view the agent uses for CRI runtimes.
 */
import { request } from 'node:http';
import { InvalidInputError, KipError } from '../../lib/errors.ts';
import {
  DOCKERSHIM_ANNOTATION_PREFIX,
  DOCKERSHIM_SANDBOX_ID_LABEL,
  DOCKERSHIM_TYPE_LABEL,
  KubeLabel,
  parseRestartCount,
} from './kube-labels.ts';
import type { ContainerInfo, ContainerState, ContainerStatusInfo, PodSandboxInfo, RuntimeReader } from './types.ts';

export type DockerErrorCode = 'DOCKER_UNAVAILABLE' | 'DOCKER_TIMEOUT' | 'DOCKER_NOT_FOUND' | 'DOCKER_API_ERROR' | 'DOCKER_BAD_RESPONSE';

export class DockerError extends KipError {
  declare readonly code: DockerErrorCode;
  constructor(code: DockerErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(code, message, details, options);
  }
}

/**
 * Docker Engine API version in request paths: 1.24 is served by every dockerd from 1.12 (the oldest
 * a v1.10 kubelet supports) through 20.10 and later (docs.docker.com/engine/api/version-history).
 */
export const DOCKER_API_VERSION = '1.24';

export interface DockerClientOptions {
  /** /var/run/docker.sock or unix:///var/run/docker.sock */
  readonly socketPath: string;
  /** Deadline of each request. Default 10 s. */
  readonly timeoutMs?: number;
}

export interface DockerContainerSummary {
  readonly id: string;
  /** Without the leading slash. */
  readonly names: readonly string[];
  readonly image: string;
  readonly imageId: string;
  readonly labels: Readonly<Record<string, string>>;
  /** created, running, exited, paused, restarting, removing, dead */
  readonly state: string;
  /** Seconds since the epoch (the list API has no finer resolution). */
  readonly createdAtS: number;
}

export interface DockerContainerDetails {
  readonly id: string;
  readonly name: string;
  readonly image: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly createdAtNs: bigint;
  readonly status: string;
  readonly running: boolean;
  readonly exitCode: number;
  /** 0n for Docker's zero time (never started / not finished). */
  readonly startedAtNs: bigint;
  readonly finishedAtNs: bigint;
  /** Docker's own restart count (restart policy); dockershim containers keep it 0. */
  readonly restartCount: number;
}

export interface DockerClient {
  version(): Promise<{ version: string; apiVersion: string }>;
  listContainers(options?: { all?: boolean; labels?: Readonly<Record<string, string>> }): Promise<DockerContainerSummary[]>;
  inspectContainer(id: string): Promise<DockerContainerDetails>;
}

type Obj = Readonly<Record<string, unknown>>;

function bad(what: string): DockerError {
  return new DockerError('DOCKER_BAD_RESPONSE', `unexpected Docker API response: ${what}`);
}
function obj(v: unknown, what: string): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw bad(what);
  return v as Obj;
}
function str(v: unknown, what: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw bad(what);
  return v;
}
function num(v: unknown, what: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(what);
  return v;
}
function labels(v: unknown, what: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  const o = obj(v, what);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(o)) out[k] = str(val, `${what}.${k}`);
  return out;
}

/**
 * RFC 3339 with up to nanosecond fraction (Docker's time format) -> ns since the epoch, exact.
 * Docker's zero time (0001-01-01T00:00:00Z) -> 0n.
 */
export function parseDockerTime(s: string): bigint {
  if (s === '' || s.startsWith('0001-01-01T')) return 0n;
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(s);
  if (m === null) throw new DockerError('DOCKER_BAD_RESPONSE', `not an RFC 3339 time: ${JSON.stringify(s)}`);
  const [, whole, frac = '', zone] = m;
  const ms = Date.parse(`${whole}${zone}`);
  if (Number.isNaN(ms)) throw new DockerError('DOCKER_BAD_RESPONSE', `not an RFC 3339 time: ${JSON.stringify(s)}`);
  return BigInt(ms) * 1_000_000n + BigInt(frac.padEnd(9, '0'));
}

export function createDockerClient(options: DockerClientOptions): DockerClient {
  const socketPath = options.socketPath.startsWith('unix://') ? options.socketPath.slice('unix://'.length) : options.socketPath;
  if (!socketPath.startsWith('/')) {
    throw new InvalidInputError('DOCKER_BAD_ADDRESS', `Docker socket must be an absolute path, got ${JSON.stringify(options.socketPath)}`);
  }
  const timeoutMs = options.timeoutMs ?? 10_000;

  function get(path: string): Promise<unknown> {
    const fullPath = `/v${DOCKER_API_VERSION}${path}`;
    return new Promise((resolve, reject) => {
      const req = request({ socketPath, path: fullPath, method: 'GET', headers: { Accept: 'application/json', Host: 'docker' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => reject(new DockerError('DOCKER_UNAVAILABLE', `reading ${fullPath}: ${err.message}`, { path: fullPath }, { cause: err })));
        res.on('end', () => {
          clearTimeout(timer);
          const body = Buffer.concat(chunks).toString('utf8');
          const statusCode = res.statusCode ?? 0;
          let parsed: unknown;
          try {
            parsed = body === '' ? undefined : JSON.parse(body);
          } catch (err) {
            reject(new DockerError('DOCKER_BAD_RESPONSE', `GET ${fullPath}: body is not JSON`, { path: fullPath, statusCode }, { cause: err }));
            return;
          }
          if (statusCode === 404) {
            reject(new DockerError('DOCKER_NOT_FOUND', `GET ${fullPath}: not found`, { path: fullPath, statusCode, message: messageOf(parsed) }));
          } else if (statusCode < 200 || statusCode >= 300) {
            reject(new DockerError('DOCKER_API_ERROR', `GET ${fullPath}: HTTP ${statusCode}: ${messageOf(parsed)}`, { path: fullPath, statusCode }));
          } else {
            resolve(parsed);
          }
        });
      });
      const timer = setTimeout(() => {
        req.destroy(new DockerError('DOCKER_TIMEOUT', `GET ${fullPath} exceeded ${timeoutMs} ms`, { path: fullPath, timeoutMs }));
      }, timeoutMs);
      req.on('error', (err) => {
        clearTimeout(timer);
        if (err instanceof DockerError) reject(err);
        else reject(new DockerError('DOCKER_UNAVAILABLE', `dockerd at ${socketPath} unavailable: ${err.message}`, { socketPath }, { cause: err }));
      });
      req.end();
    });
  }

  return {
    async version() {
      const v = obj(await get('/version'), 'version');
      return { version: str(v.Version, 'Version'), apiVersion: str(v.ApiVersion, 'ApiVersion') };
    },
    async listContainers(opts = {}) {
      const params = new URLSearchParams();
      if (opts.all ?? true) params.set('all', '1');
      const labelFilters = Object.entries(opts.labels ?? {}).map(([k, v]) => `${k}=${v}`);
      if (labelFilters.length > 0) params.set('filters', JSON.stringify({ label: labelFilters }));
      const raw = await get(`/containers/json?${params.toString()}`);
      if (!Array.isArray(raw)) throw bad('containers list is not an array');
      return raw.map((r: unknown, i) => {
        const c = obj(r, `containers[${i}]`);
        const names = Array.isArray(c.Names) ? c.Names.map((n: unknown) => str(n, 'Names[]').replace(/^\//, '')) : [];
        return {
          id: str(c.Id, 'Id'),
          names,
          image: str(c.Image, 'Image'),
          imageId: str(c.ImageID, 'ImageID'),
          labels: labels(c.Labels, 'Labels'),
          state: str(c.State, 'State'),
          createdAtS: num(c.Created, 'Created'),
        };
      });
    },
    async inspectContainer(id) {
      if (id === '' || id.includes('/')) throw new InvalidInputError('DOCKER_BAD_ID', `bad container id ${JSON.stringify(id)}`);
      const c = obj(await get(`/containers/${encodeURIComponent(id)}/json`), 'inspect');
      const state = obj(c.State ?? {}, 'State');
      const config = obj(c.Config ?? {}, 'Config');
      return {
        id: str(c.Id, 'Id'),
        name: str(c.Name, 'Name').replace(/^\//, ''),
        image: str(config.Image, 'Config.Image'),
        labels: labels(config.Labels, 'Config.Labels'),
        createdAtNs: parseDockerTime(str(c.Created, 'Created')),
        status: str(state.Status, 'State.Status'),
        running: state.Running === true,
        exitCode: num(state.ExitCode, 'State.ExitCode'),
        startedAtNs: parseDockerTime(str(state.StartedAt, 'State.StartedAt')),
        finishedAtNs: parseDockerTime(str(state.FinishedAt, 'State.FinishedAt')),
        restartCount: num(c.RestartCount, 'RestartCount'),
      };
    },
  };
}

function messageOf(body: unknown): string {
  if (body !== null && typeof body === 'object' && 'message' in body && typeof body.message === 'string') return body.message;
  return '';
}

// ---- dockershim view ----

/** Docker labels -> CRI labels and annotations, as dockershim splits them. */
export function splitDockershimLabels(dockerLabels: Readonly<Record<string, string>>): { labels: Record<string, string>; annotations: Record<string, string> } {
  const out = { labels: {} as Record<string, string>, annotations: {} as Record<string, string> };
  for (const [k, v] of Object.entries(dockerLabels)) {
    if (k.startsWith(DOCKERSHIM_ANNOTATION_PREFIX)) out.annotations[k.slice(DOCKERSHIM_ANNOTATION_PREFIX.length)] = v;
    else if (k !== DOCKERSHIM_TYPE_LABEL && k !== DOCKERSHIM_SANDBOX_ID_LABEL) out.labels[k] = v;
  }
  return out;
}

/** k8s_<container>_<pod>_<namespace>_<uid>_<attempt> (sandboxes: k8s_POD_...). undefined if not that shape. */
export function parseDockershimName(name: string): { container: string; pod: string; namespace: string; uid: string; attempt: number } | undefined {
  const parts = name.replace(/^\//, '').split('_');
  // dockershim tolerates a 7th field, the random suffix of the docker 1.11 era (pkg/kubelet/dockershim/naming.go, parseContainerName).
  if ((parts.length !== 6 && parts.length !== 7) || parts[0] !== 'k8s') return undefined;
  const [, container = '', pod = '', namespace = '', uid = '', attempt = ''] = parts;
  if (!/^\d+$/.test(attempt)) return undefined;
  return { container, pod, namespace, uid, attempt: Number(attempt) };
}

function dockerState(s: string): ContainerState {
  switch (s) {
    case 'created':
      return 'created';
    case 'running':
    case 'paused':
    case 'restarting':
      return 'running';
    case 'exited':
    case 'dead':
      return 'exited';
    default:
      return 'unknown';
  }
}

/** A RuntimeReader over dockerd for dockershim nodes (only containers dockershim created). */
export function dockershimReader(docker: DockerClient): RuntimeReader {
  return {
    async version() {
      const v = await docker.version();
      // dockershim answered CRI Version with runtime "docker" and the Docker API version; kubelets
      // of the v1.10..v1.17 era spoke CRI runtime.v1alpha2 to it.
      return { criApi: 'v1alpha2', runtimeName: 'docker', runtimeVersion: v.version, runtimeApiVersion: v.apiVersion };
    },
    async listContainers(filter) {
      const all = await docker.listContainers({ all: true, labels: { [DOCKERSHIM_TYPE_LABEL]: 'container', ...(filter?.labelSelector ?? {}) } });
      const out: ContainerInfo[] = [];
      for (const c of all) {
        const { labels: l, annotations } = splitDockershimLabels(c.labels);
        const parsed = parseDockershimName(c.names[0] ?? '');
        const info: ContainerInfo = {
          id: c.id,
          podSandboxId: c.labels[DOCKERSHIM_SANDBOX_ID_LABEL] ?? '',
          name: l[KubeLabel.containerName] ?? parsed?.container ?? c.names[0] ?? '',
          attempt: parsed?.attempt ?? 0,
          state: dockerState(c.state),
          createdAtNs: BigInt(Math.trunc(c.createdAtS)) * 1_000_000_000n,
          labels: l,
          annotations,
          image: c.image,
          imageRef: c.imageId,
        };
        if (filter?.id !== undefined && filter.id !== '' && !info.id.startsWith(filter.id)) continue;
        if (filter?.podSandboxId !== undefined && filter.podSandboxId !== '' && info.podSandboxId !== filter.podSandboxId) continue;
        if (filter?.state !== undefined && info.state !== filter.state) continue;
        out.push(info);
      }
      return out;
    },
    async listPodSandboxes(filter) {
      const all = await docker.listContainers({ all: true, labels: { [DOCKERSHIM_TYPE_LABEL]: 'podsandbox', ...(filter?.labelSelector ?? {}) } });
      const out: PodSandboxInfo[] = [];
      for (const c of all) {
        const { labels: l, annotations } = splitDockershimLabels(c.labels);
        const parsed = parseDockershimName(c.names[0] ?? '');
        const info: PodSandboxInfo = {
          id: c.id,
          name: l[KubeLabel.podName] ?? parsed?.pod ?? '',
          uid: l[KubeLabel.podUid] ?? parsed?.uid ?? '',
          namespace: l[KubeLabel.podNamespace] ?? parsed?.namespace ?? '',
          attempt: parsed?.attempt ?? 0,
          state: c.state === 'running' ? 'ready' : 'notready',
          createdAtNs: BigInt(Math.trunc(c.createdAtS)) * 1_000_000_000n,
          labels: l,
          annotations,
        };
        if (filter?.id !== undefined && filter.id !== '' && !info.id.startsWith(filter.id)) continue;
        if (filter?.state !== undefined && info.state !== filter.state) continue;
        out.push(info);
      }
      return out;
    },
    async containerStatus(id) {
      const d = await docker.inspectContainer(id);
      const { labels: l, annotations } = splitDockershimLabels(d.labels);
      const parsed = parseDockershimName(d.name);
      return {
        id: d.id,
        name: l[KubeLabel.containerName] ?? parsed?.container ?? d.name,
        attempt: parsed?.attempt ?? 0,
        state: dockerState(d.status),
        createdAtNs: d.createdAtNs,
        startedAtNs: d.startedAtNs,
        finishedAtNs: d.finishedAtNs,
        exitCode: d.exitCode,
        reason: '',
        message: '',
        restartCount: parseRestartCount(annotations),
        labels: l,
        annotations,
        image: d.image,
        imageRef: '',
      } satisfies ContainerStatusInfo;
    },
  };
}
