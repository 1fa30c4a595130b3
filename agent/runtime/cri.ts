/**
 * CRI client over a unix socket (containerd 1.6's CRI plugin, or any CRI runtime). Detects whether
 * the runtime speaks runtime.v1 or runtime.v1alpha2 through Version, puts a deadline on every call,
 * and turns gRPC failures into CriError with stable codes.
 */
import { Client, credentials, Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import { InvalidInputError } from '../../lib/errors.ts';
import { CriError } from './cri-errors.ts';
import { decodeListContainersResponse, decodeListPodSandboxResponse } from './cri-wire.ts';
import type { Logger } from '../../lib/logger.ts';
import { criServices } from './cri-proto.ts';
import { parseRestartCount } from './kube-labels.ts';
import type {
  ContainerFilter,
  ContainerInfo,
  ContainerSpec,
  ContainerState,
  ContainerStatusInfo,
  CriApiVersion,
  ImageInfo,
  ImageReader,
  PodSandboxFilter,
  PodSandboxInfo,
  PodSandboxSpec,
  RuntimeReader,
  RuntimeVersion,
  RuntimeWriter,
  SandboxState,
} from './types.ts';

export { CriError, type CriErrorCode } from './cri-errors.ts';

export interface CriClientOptions {
  /** unix:///run/containerd/containerd.sock (a bare absolute path is accepted too). */
  readonly address: string;
  /** Deadline of each call. Default 10 s. */
  readonly timeoutMs?: number;
  /** 'auto' (default) asks v1 first and falls back to v1alpha2 when v1 is unimplemented. */
  readonly apiVersion?: CriApiVersion | 'auto';
  readonly logger?: Logger;
}

export interface CriClient extends RuntimeReader, RuntimeWriter, ImageReader {
  /** The API package in use (detects it on first use). */
  apiVersion(): Promise<CriApiVersion>;
  close(): void;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/** 'unix:///x.sock' or '/x.sock' -> 'unix:///x.sock'; anything else is refused (CRI is local). */
export function normalizeCriAddress(address: string): string {
  if (address.startsWith('unix:///')) return address;
  if (address.startsWith('/')) return `unix://${address}`;
  throw new InvalidInputError('CRI_BAD_ADDRESS', `CRI address must be unix:///absolute/path, got ${JSON.stringify(address)}`, { address });
}

// ---- decoding helpers (responses arrive as plain objects shaped by CRI_PROTO_LOADER_OPTIONS) ----

type Obj = Readonly<Record<string, unknown>>;

function badResponse(what: string, value: unknown): CriError {
  return new CriError('CRI_BAD_RESPONSE', `unexpected CRI response: ${what}`, { value: typeof value });
}
function obj(v: unknown, what: string): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw badResponse(what, v);
  return v as Obj;
}
function optObj(v: unknown, what: string): Obj {
  return v === null || v === undefined ? {} : obj(v, what);
}
function str(v: unknown, what: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw badResponse(what, v);
  return v;
}
function int(v: unknown, what: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
  throw badResponse(what, v);
}
function big(v: unknown, what: string): bigint {
  if (v === undefined || v === null || v === '') return 0n;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  throw badResponse(what, v);
}
/**
 * A map field as a Record. Every response object is fresh from the gRPC deserializer and nothing
 * else holds it, so a plain object whose values are all strings is kept as it is instead of
 * copied: a ListContainers of 500 containers is polled every second, and each copy of its label
 * and annotation maps was garbage the idle agent's young generation had to hold (issue 11/12 idle
 * memory).
 */
function strMap(v: unknown, what: string): Record<string, string> {
  const o = optObj(v, what);
  let plain = Object.getPrototypeOf(o) === Object.prototype;
  for (const k in o) {
    const val = o[k];
    if (typeof val !== 'string') {
      if (val !== undefined && val !== null) throw badResponse(`${what}.${k}`, val);
      plain = false;
    }
  }
  if (plain) return o as Record<string, string>;
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(o)) out[k] = str(val, `${what}.${k}`);
  return out;
}
function strList(v: unknown, what: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw badResponse(what, v);
  return v.map((x, i) => str(x, `${what}[${i}]`));
}
function list(v: unknown, what: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw badResponse(what, v);
  return v;
}

const CONTAINER_STATES: Readonly<Record<string, ContainerState>> = {
  CONTAINER_CREATED: 'created',
  CONTAINER_RUNNING: 'running',
  CONTAINER_EXITED: 'exited',
  CONTAINER_UNKNOWN: 'unknown',
};
const CONTAINER_STATE_NAMES: Readonly<Record<ContainerState, string>> = {
  created: 'CONTAINER_CREATED',
  running: 'CONTAINER_RUNNING',
  exited: 'CONTAINER_EXITED',
  unknown: 'CONTAINER_UNKNOWN',
};
const SANDBOX_STATE_NAMES: Readonly<Record<SandboxState, string>> = { ready: 'SANDBOX_READY', notready: 'SANDBOX_NOTREADY' };

function containerState(v: unknown): ContainerState {
  if (typeof v === 'string') return CONTAINER_STATES[v] ?? 'unknown';
  return 'unknown';
}
function sandboxState(v: unknown): SandboxState {
  return v === 'SANDBOX_READY' ? 'ready' : 'notready';
}

export function decodeContainer(raw: unknown): ContainerInfo {
  const c = obj(raw, 'Container');
  const meta = optObj(c.metadata, 'Container.metadata');
  return {
    id: str(c.id, 'Container.id'),
    podSandboxId: str(c.podSandboxId, 'Container.podSandboxId'),
    name: str(meta.name, 'Container.metadata.name'),
    attempt: int(meta.attempt, 'Container.metadata.attempt'),
    state: containerState(c.state),
    createdAtNs: big(c.createdAt, 'Container.createdAt'),
    labels: strMap(c.labels, 'Container.labels'),
    annotations: strMap(c.annotations, 'Container.annotations'),
    image: str(optObj(c.image, 'Container.image').image, 'Container.image.image'),
    imageRef: str(c.imageRef, 'Container.imageRef'),
  };
}

export function decodePodSandbox(raw: unknown): PodSandboxInfo {
  const p = obj(raw, 'PodSandbox');
  const meta = optObj(p.metadata, 'PodSandbox.metadata');
  return {
    id: str(p.id, 'PodSandbox.id'),
    name: str(meta.name, 'PodSandbox.metadata.name'),
    uid: str(meta.uid, 'PodSandbox.metadata.uid'),
    namespace: str(meta.namespace, 'PodSandbox.metadata.namespace'),
    attempt: int(meta.attempt, 'PodSandbox.metadata.attempt'),
    state: sandboxState(p.state),
    createdAtNs: big(p.createdAt, 'PodSandbox.createdAt'),
    labels: strMap(p.labels, 'PodSandbox.labels'),
    annotations: strMap(p.annotations, 'PodSandbox.annotations'),
  };
}

export function decodeContainerStatus(raw: unknown): ContainerStatusInfo {
  const s = obj(raw, 'ContainerStatus');
  const meta = optObj(s.metadata, 'ContainerStatus.metadata');
  const annotations = strMap(s.annotations, 'ContainerStatus.annotations');
  return {
    id: str(s.id, 'ContainerStatus.id'),
    name: str(meta.name, 'ContainerStatus.metadata.name'),
    attempt: int(meta.attempt, 'ContainerStatus.metadata.attempt'),
    state: containerState(s.state),
    createdAtNs: big(s.createdAt, 'ContainerStatus.createdAt'),
    startedAtNs: big(s.startedAt, 'ContainerStatus.startedAt'),
    finishedAtNs: big(s.finishedAt, 'ContainerStatus.finishedAt'),
    exitCode: int(s.exitCode, 'ContainerStatus.exitCode'),
    reason: str(s.reason, 'ContainerStatus.reason'),
    message: str(s.message, 'ContainerStatus.message'),
    restartCount: parseRestartCount(annotations),
    labels: strMap(s.labels, 'ContainerStatus.labels'),
    annotations,
    image: str(optObj(s.image, 'ContainerStatus.image').image, 'ContainerStatus.image.image'),
    imageRef: str(s.imageRef, 'ContainerStatus.imageRef'),
  };
}

function decodeImage(raw: unknown): ImageInfo {
  const i = obj(raw, 'Image');
  return {
    id: str(i.id, 'Image.id'),
    repoTags: strList(i.repoTags, 'Image.repoTags'),
    repoDigests: strList(i.repoDigests, 'Image.repoDigests'),
    size: big(i.size, 'Image.size'),
  };
}

// ---- encoding the write side ----

function sandboxConfig(spec: PodSandboxSpec): Record<string, unknown> {
  const hostNetwork = spec.hostNetwork ?? true;
  return {
    metadata: { name: spec.name, uid: spec.uid, namespace: spec.namespace, attempt: spec.attempt ?? 0 },
    hostname: spec.hostname ?? '',
    logDirectory: spec.logDirectory ?? '',
    labels: { ...(spec.labels ?? {}) },
    annotations: { ...(spec.annotations ?? {}) },
    linux: {
      cgroupParent: spec.cgroupParent ?? '',
      securityContext: {
        namespaceOptions: { network: hostNetwork ? 'NODE' : 'POD', pid: 'CONTAINER', ipc: 'POD' },
      },
    },
  };
}

function containerConfig(spec: ContainerSpec, sandbox: PodSandboxSpec): Record<string, unknown> {
  const hostNetwork = sandbox.hostNetwork ?? true;
  return {
    metadata: { name: spec.name, attempt: spec.attempt ?? 0 },
    image: { image: spec.image },
    command: [...(spec.command ?? [])],
    args: [...(spec.args ?? [])],
    workingDir: spec.workingDir ?? '',
    envs: Object.entries(spec.env ?? {}).map(([key, value]) => ({ key, value })),
    mounts: (spec.mounts ?? []).map((m) => ({ containerPath: m.containerPath, hostPath: m.hostPath, readonly: m.readonly ?? false })),
    labels: { ...(spec.labels ?? {}) },
    annotations: { ...(spec.annotations ?? {}) },
    logPath: spec.logPath ?? '',
    linux: {
      securityContext: {
        namespaceOptions: { network: hostNetwork ? 'NODE' : 'POD', pid: 'CONTAINER', ipc: 'POD' },
      },
    },
  };
}

function containerFilter(f: ContainerFilter | undefined): Record<string, unknown> | undefined {
  if (f === undefined) return undefined;
  return {
    id: f.id ?? '',
    podSandboxId: f.podSandboxId ?? '',
    state: f.state === undefined ? undefined : { state: CONTAINER_STATE_NAMES[f.state] },
    labelSelector: { ...(f.labelSelector ?? {}) },
  };
}

function sandboxFilter(f: PodSandboxFilter | undefined): Record<string, unknown> | undefined {
  if (f === undefined) return undefined;
  return {
    id: f.id ?? '',
    state: f.state === undefined ? undefined : { state: SANDBOX_STATE_NAMES[f.state] },
    labelSelector: { ...(f.labelSelector ?? {}) },
  };
}

// ---- the client ----

type AnyMethod = MethodDefinition<object, object>;

function isServiceError(e: unknown): e is ServiceError {
  return e instanceof Error && typeof (e as Partial<ServiceError>).code === 'number';
}

function toCriError(err: unknown, method: string, address: string): CriError {
  if (!isServiceError(err)) {
    return new CriError('CRI_CALL_FAILED', `CRI ${method} failed: ${err instanceof Error ? err.message : String(err)}`, { method, address }, { cause: err });
  }
  const details = { method, address, grpcCode: err.code, grpcDetails: err.details };
  switch (err.code) {
    case GrpcStatus.UNAVAILABLE:
      return new CriError('CRI_UNAVAILABLE', `CRI runtime at ${address} unavailable (${method}): ${err.details}`, details, { cause: err });
    case GrpcStatus.DEADLINE_EXCEEDED:
      return new CriError('CRI_DEADLINE_EXCEEDED', `CRI ${method} exceeded its deadline`, details, { cause: err });
    case GrpcStatus.NOT_FOUND:
      return new CriError('CRI_NOT_FOUND', `CRI ${method}: not found: ${err.details}`, details, { cause: err });
    case GrpcStatus.UNIMPLEMENTED:
      return new CriError('CRI_UNIMPLEMENTED', `CRI ${method} is not implemented by the runtime`, details, { cause: err });
    default:
      return new CriError('CRI_CALL_FAILED', `CRI ${method} failed: ${err.details}`, details, { cause: err });
  }
}

export function createCriClient(options: CriClientOptions): CriClient {
  const address = normalizeCriAddress(options.address);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const log = options.logger?.child({ component: 'cri', address });
  const grpcClient = new Client(address, credentials.createInsecure(), {
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    // no transparent retries: every failure reaches the caller as a CriError within the deadline
    'grpc.enable_retries': 0,
  });
  const services = criServices();
  let detected: Promise<{ api: CriApiVersion; version: RuntimeVersion }> | undefined;

  function call(api: CriApiVersion, svc: 'runtime' | 'image', method: string, request: object): Promise<Obj> {
    return callWith(api, svc, method, request, undefined, (res) => optObj(res, `${method} response`));
  }

  /**
   * One unary call; `wire` (when given) decodes the response bytes itself instead of the method's
   * proto-loader deserializer, and `decode` turns what came back into the result. A decoding
   * failure rejects with it (a CriError CRI_BAD_RESPONSE from cri-wire.ts).
   */
  function callWith<T>(api: CriApiVersion, svc: 'runtime' | 'image', method: string, request: object, wire: ((b: Buffer) => unknown) | undefined, decode: (res: unknown) => T): Promise<T> {
    const def = services[api][svc][method] as AnyMethod | undefined;
    if (def === undefined) {
      return Promise.reject(new CriError('CRI_CALL_FAILED', `method ${method} is not in kip's CRI proto subset`, { method }));
    }
    return new Promise<T>((resolve, reject) => {
      grpcClient.makeUnaryRequest<object, unknown>(
        def.path,
        def.requestSerialize,
        // The bytes as they came: decoded below, so a bad message is CRI_BAD_RESPONSE, not gRPC's INTERNAL.
        wire ? (b: Buffer) => b : def.responseDeserialize,
        request,
        new Metadata(),
        { deadline: Date.now() + timeoutMs },
        (err, res) => {
          if (err) {
            reject(toCriError(err, `${api}.${method}`, address));
            return;
          }
          try {
            resolve(decode(wire ? wire(res as Buffer) : res));
          } catch (e) {
            reject(e);
          }
        },
      );
    });
  }

  async function versionOn(api: CriApiVersion): Promise<RuntimeVersion> {
    const r = await call(api, 'runtime', 'Version', { version: '0.1.0' });
    return {
      criApi: api,
      runtimeName: str(r.runtimeName, 'VersionResponse.runtimeName'),
      runtimeVersion: str(r.runtimeVersion, 'VersionResponse.runtimeVersion'),
      runtimeApiVersion: str(r.runtimeApiVersion, 'VersionResponse.runtimeApiVersion'),
    };
  }

  async function detect(): Promise<{ api: CriApiVersion; version: RuntimeVersion }> {
    const wanted = options.apiVersion ?? 'auto';
    if (wanted !== 'auto') return { api: wanted, version: await versionOn(wanted) };
    try {
      return { api: 'v1', version: await versionOn('v1') };
    } catch (err) {
      if (!(err instanceof CriError) || err.code !== 'CRI_UNIMPLEMENTED') throw err;
      log?.info('runtime does not serve runtime.v1; trying runtime.v1alpha2');
    }
    try {
      return { api: 'v1alpha2', version: await versionOn('v1alpha2') };
    } catch (err) {
      if (err instanceof CriError && err.code === 'CRI_UNIMPLEMENTED') {
        throw new CriError('CRI_NO_SUPPORTED_API', `CRI runtime at ${address} serves neither runtime.v1 nor runtime.v1alpha2`, { address }, { cause: err });
      }
      throw err;
    }
  }

  function detection(): Promise<{ api: CriApiVersion; version: RuntimeVersion }> {
    if (detected === undefined) {
      const p = detect();
      detected = p;
      // A transient failure (runtime not up yet) must not stick: the next call detects again.
      p.catch(() => {
        if (detected === p) detected = undefined;
      });
    }
    return detected;
  }

  async function rt(method: string, request: object): Promise<Obj> {
    const { api } = await detection();
    return call(api, 'runtime', method, request);
  }
  async function img(method: string, request: object): Promise<Obj> {
    const { api } = await detection();
    return call(api, 'image', method, request);
  }

  function requireId(id: string, what: string): void {
    if (id === '') throw new InvalidInputError('CRI_EMPTY_ID', `${what} must not be empty`);
  }

  return {
    async apiVersion() {
      return (await detection()).api;
    },
    async version() {
      const { api } = await detection();
      return versionOn(api);
    },
    // The node watcher's every poll: straight from the wire into ContainerInfo (cri-wire.ts).
    async listContainers(filter) {
      const { api } = await detection();
      return callWith(api, 'runtime', 'ListContainers', { filter: containerFilter(filter) }, decodeListContainersResponse, (r) => r as ContainerInfo[]);
    },
    async listPodSandboxes(filter) {
      const { api } = await detection();
      return callWith(api, 'runtime', 'ListPodSandbox', { filter: sandboxFilter(filter) }, decodeListPodSandboxResponse, (r) => r as PodSandboxInfo[]);
    },
    async containerStatus(id) {
      requireId(id, 'container id');
      const r = await rt('ContainerStatus', { containerId: id, verbose: false });
      if (r.status === null || r.status === undefined) throw new CriError('CRI_BAD_RESPONSE', `ContainerStatus of ${id} has no status`, { id });
      return decodeContainerStatus(r.status);
    },
    async runPodSandbox(spec) {
      const r = await rt('RunPodSandbox', { config: sandboxConfig(spec), runtimeHandler: '' });
      const id = str(r.podSandboxId, 'RunPodSandboxResponse.podSandboxId');
      if (id === '') throw new CriError('CRI_BAD_RESPONSE', 'RunPodSandbox returned no id');
      log?.debug({ podSandboxId: id, pod: spec.name }, 'pod sandbox started');
      return id;
    },
    async stopPodSandbox(id) {
      requireId(id, 'pod sandbox id');
      await rt('StopPodSandbox', { podSandboxId: id });
    },
    async removePodSandbox(id) {
      requireId(id, 'pod sandbox id');
      await rt('RemovePodSandbox', { podSandboxId: id });
    },
    async createContainer(podSandboxId, spec, sandbox) {
      requireId(podSandboxId, 'pod sandbox id');
      const r = await rt('CreateContainer', { podSandboxId, config: containerConfig(spec, sandbox), sandboxConfig: sandboxConfig(sandbox) });
      const id = str(r.containerId, 'CreateContainerResponse.containerId');
      if (id === '') throw new CriError('CRI_BAD_RESPONSE', 'CreateContainer returned no id');
      return id;
    },
    async startContainer(id) {
      requireId(id, 'container id');
      await rt('StartContainer', { containerId: id });
    },
    async stopContainer(id, timeoutSeconds) {
      requireId(id, 'container id');
      await rt('StopContainer', { containerId: id, timeout: String(Math.max(0, Math.floor(timeoutSeconds))) });
    },
    async removeContainer(id) {
      requireId(id, 'container id');
      await rt('RemoveContainer', { containerId: id });
    },
    async listImages() {
      const r = await img('ListImages', {});
      return list(r.images, 'ListImagesResponse.images').map(decodeImage);
    },
    async imageStatus(image) {
      const r = await img('ImageStatus', { image: { image }, verbose: false });
      // CRI answers an absent image with an empty status, not NOT_FOUND.
      if (r.image === null || r.image === undefined) return undefined;
      const info = decodeImage(r.image);
      return info.id === '' ? undefined : info;
    },
    async pullImage(image) {
      const r = await img('PullImage', { image: { image } });
      return str(r.imageRef, 'PullImageResponse.imageRef');
    },
    close() {
      grpcClient.close();
    },
  };
}
