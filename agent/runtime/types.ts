/**
 * What the agent reads from a container runtime, independent of how (CRI over gRPC, Docker Engine
 * API). Timestamps are nanoseconds since the Unix epoch as bigint (they do not fit a double).
 */

export type ContainerState = 'created' | 'running' | 'exited' | 'unknown';
export type SandboxState = 'ready' | 'notready';
export type CriApiVersion = 'v1' | 'v1alpha2';

export interface ContainerInfo {
  readonly id: string;
  readonly podSandboxId: string;
  /** Container name as the kubelet gave it (CRI metadata.name). */
  readonly name: string;
  /** CRI metadata.attempt: 0 for the first container of this name in this sandbox, then 1, 2, ... */
  readonly attempt: number;
  readonly state: ContainerState;
  readonly createdAtNs: bigint;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** The image as the container spec named it. */
  readonly image: string;
  /** The resolved image (digest or id). */
  readonly imageRef: string;
}

export interface PodSandboxInfo {
  readonly id: string;
  readonly name: string;
  readonly uid: string;
  readonly namespace: string;
  readonly attempt: number;
  readonly state: SandboxState;
  readonly createdAtNs: bigint;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface ContainerStatusInfo {
  readonly id: string;
  readonly name: string;
  readonly attempt: number;
  readonly state: ContainerState;
  readonly createdAtNs: bigint;
  /** 0n when the container never started. */
  readonly startedAtNs: bigint;
  /** 0n while it has not finished. */
  readonly finishedAtNs: bigint;
  readonly exitCode: number;
  readonly reason: string;
  readonly message: string;
  /** From the kubelet annotation io.kubernetes.container.restartCount; undefined when absent or not a number. */
  readonly restartCount: number | undefined;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly image: string;
  readonly imageRef: string;
}

export interface RuntimeVersion {
  /** The CRI API package the runtime answered on. */
  readonly criApi: CriApiVersion;
  readonly runtimeName: string;
  readonly runtimeVersion: string;
  readonly runtimeApiVersion: string;
}

export interface ContainerFilter {
  readonly id?: string;
  readonly podSandboxId?: string;
  readonly state?: ContainerState;
  readonly labelSelector?: Readonly<Record<string, string>>;
}

export interface PodSandboxFilter {
  readonly id?: string;
  readonly state?: SandboxState;
  readonly labelSelector?: Readonly<Record<string, string>>;
}

/** The read side the agent uses (hash self-check, restart detection). */
export interface RuntimeReader {
  version(): Promise<RuntimeVersion>;
  listContainers(filter?: ContainerFilter): Promise<ContainerInfo[]>;
  listPodSandboxes(filter?: PodSandboxFilter): Promise<PodSandboxInfo[]>;
  containerStatus(id: string): Promise<ContainerStatusInfo>;
}

export interface MountSpec {
  readonly containerPath: string;
  readonly hostPath: string;
  readonly readonly?: boolean;
}

export interface PodSandboxSpec {
  readonly name: string;
  readonly uid: string;
  readonly namespace: string;
  readonly attempt?: number;
  readonly hostname?: string;
  readonly logDirectory?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  /** Share the host's network namespace (no CNI needed). Default true: kip's labs have no CNI. */
  readonly hostNetwork?: boolean;
  readonly cgroupParent?: string;
}

export interface ContainerSpec {
  readonly name: string;
  readonly attempt?: number;
  readonly image: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly workingDir?: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly mounts?: readonly MountSpec[];
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  /** Relative to the sandbox's logDirectory. */
  readonly logPath?: string;
}

/** The write side the lab kubelet needs. */
export interface RuntimeWriter {
  runPodSandbox(spec: PodSandboxSpec): Promise<string>;
  stopPodSandbox(id: string): Promise<void>;
  removePodSandbox(id: string): Promise<void>;
  /** sandbox: the same spec the sandbox was started with (CRI wants it again). */
  createContainer(podSandboxId: string, spec: ContainerSpec, sandbox: PodSandboxSpec): Promise<string>;
  startContainer(id: string): Promise<void>;
  /** timeoutSeconds: grace period before SIGKILL. */
  stopContainer(id: string, timeoutSeconds: number): Promise<void>;
  removeContainer(id: string): Promise<void>;
}

export interface ImageInfo {
  readonly id: string;
  readonly repoTags: readonly string[];
  readonly repoDigests: readonly string[];
  readonly size: bigint;
}

export interface ImageReader {
  listImages(): Promise<ImageInfo[]>;
  /** undefined when the runtime does not have the image. */
  imageStatus(image: string): Promise<ImageInfo | undefined>;
  pullImage(image: string): Promise<string>;
}
