/**
 * The lab kubelet's Docker backend: the CRI calls the kubelet makes (RuntimeReader & RuntimeWriter,
 * the same interface the containerd backend answers over CRI, so pod-sync.ts and rules.ts decide
 * hashes, skip file and restarts once for both), carried out against dockerd the way the kubelet's
 * built-in dockershim carries them out (kubernetes pkg/kubelet/dockershim/, v1.10..v1.23):
 *
 * - names (naming.go, makeSandboxName / makeContainerName): kubePrefix "k8s", nameDelimiter "_",
 *   k8s_POD_<pod>_<namespace>_<uid>_<sandbox attempt> for the sandbox (sandboxContainerName =
 *   leaky.PodInfraContainerName = "POD") and k8s_<container>_<pod>_<namespace>_<uid>_<attempt>;
 * - labels (helpers.go makeLabels): the CRI labels as they are, every CRI annotation as
 *   "annotation.<key>" (annotationPrefix), so io.kubernetes.container.hash and
 *   io.kubernetes.container.restartCount (kuberuntime annotations) are Docker labels
 *   annotation.io.kubernetes.container.hash / .restartCount;
 * - docker_service.go: containerTypeLabelKey "io.kubernetes.docker.type" = "podsandbox" |
 *   "container", sandboxIDLabelKey "io.kubernetes.sandbox.id" on application containers,
 *   containerLogPathLabelKey "io.kubernetes.container.logpath" = LogDirectory/LogPath;
 * - docker_sandbox.go makeSandboxDockerConfig: the sandbox also gets
 *   io.kubernetes.container.name = "POD" (types.KubernetesContainerNameLabel, "used in summary v1"),
 *   runs the pod infra image (--pod-infra-container-image), and StopPodSandbox stops it with
 *   defaultSandboxGracePeriod = 10 s;
 * - security_context.go modifyHostOptionsForSandbox / modifyHostOptionsForContainer: the sandbox's
 *   NetworkMode is "host" for hostNetwork pods and "none" with a CNI or kubenet network plugin (the
 *   plugin then sets the namespace up; the lab's dockerd runs --bridge=none and its pods have
 *   loopback only, as scripts/lab/cni.ts gives containerd pods their own namespace), and every
 *   application container joins it: NetworkMode and IpcMode "container:<sandbox id>";
 * - helpers.go recoverFromCreationConflictIfNeeded: a create that fails on a name conflict removes
 *   the conflicting container (dockershim then fails the call and the kubelet retries on its next
 *   sync; the lab retries once at once, which ends in the same state a sync earlier).
 *
 * The read side is agent/runtime/docker.ts dockershimReader, the very reader kip-agent uses on a
 * Docker node, so the lab kubelet and the agent see the same containers the same way.
 */
import { createDockerClient, dockershimReader, type DockerClient } from '../../../agent/runtime/docker.ts';
import {
  DOCKERSHIM_ANNOTATION_PREFIX, DOCKERSHIM_SANDBOX_ID_LABEL, DOCKERSHIM_TYPE_LABEL, KubeLabel,
} from '../../../agent/runtime/kube-labels.ts';
import type { ContainerSpec, PodSandboxSpec, RuntimeReader, RuntimeWriter } from '../../../agent/runtime/types.ts';
import type { Logger } from '../../../lib/logger.ts';
import { createDockerWriter, DockerConflictError, type DockerCreateBody, type DockerWriter } from './docker-api.ts';

/** dockershim's constants (naming.go, docker_service.go, docker_sandbox.go), by their upstream names. */
export const Dockershim = {
  kubePrefix: 'k8s',
  nameDelimiter: '_',
  sandboxContainerName: 'POD',
  containerTypeLabelSandbox: 'podsandbox',
  containerTypeLabelContainer: 'container',
  containerLogPathLabelKey: 'io.kubernetes.container.logpath',
  defaultSandboxGracePeriod: 10,
} as const;

/** naming.go makeSandboxName. */
export function sandboxName(s: Pick<PodSandboxSpec, 'name' | 'namespace' | 'uid' | 'attempt'>): string {
  return [Dockershim.kubePrefix, Dockershim.sandboxContainerName, s.name, s.namespace, s.uid, String(s.attempt ?? 0)].join(Dockershim.nameDelimiter);
}

/** naming.go makeContainerName. */
export function containerName(s: Pick<PodSandboxSpec, 'name' | 'namespace' | 'uid'>, c: Pick<ContainerSpec, 'name' | 'attempt'>): string {
  return [Dockershim.kubePrefix, c.name, s.name, s.namespace, s.uid, String(c.attempt ?? 0)].join(Dockershim.nameDelimiter);
}

/** helpers.go makeLabels: CRI labels as they are, annotations under "annotation.". */
export function makeLabels(labels: Readonly<Record<string, string>> = {}, annotations: Readonly<Record<string, string>> = {}): Record<string, string> {
  const out: Record<string, string> = { ...labels };
  for (const [k, v] of Object.entries(annotations)) out[`${DOCKERSHIM_ANNOTATION_PREFIX}${k}`] = v;
  return out;
}

/** docker_sandbox.go makeSandboxDockerConfig (the parts the lab's pods use). */
export function sandboxCreateBody(spec: PodSandboxSpec, infraImage: string, cgroupParent?: string): DockerCreateBody {
  const labels = makeLabels(spec.labels, spec.annotations);
  labels[DOCKERSHIM_TYPE_LABEL] = Dockershim.containerTypeLabelSandbox;
  labels[KubeLabel.containerName] = Dockershim.sandboxContainerName;
  const hostNetwork = spec.hostNetwork ?? true;
  return {
    Image: infraImage,
    ...(spec.hostname && !hostNetwork ? { Hostname: spec.hostname } : {}),
    Labels: labels,
    HostConfig: { NetworkMode: hostNetwork ? 'host' : 'none', ...(cgroupParent ? { CgroupParent: cgroupParent } : {}) },
  };
}

/** docker_container.go CreateContainer (the parts the lab's pods use). */
export function containerCreateBody(podSandboxId: string, spec: ContainerSpec, sandbox: PodSandboxSpec, cgroupParent?: string): DockerCreateBody {
  const labels = makeLabels(spec.labels, spec.annotations);
  labels[DOCKERSHIM_TYPE_LABEL] = Dockershim.containerTypeLabelContainer;
  labels[Dockershim.containerLogPathLabelKey] = [sandbox.logDirectory ?? '', spec.logPath ?? ''].filter((p) => p !== '').join('/');
  labels[DOCKERSHIM_SANDBOX_ID_LABEL] = podSandboxId;
  return {
    Image: spec.image,
    ...(spec.command ? { Entrypoint: spec.command } : {}),
    ...(spec.args ? { Cmd: spec.args } : {}),
    ...(spec.env ? { Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`) } : {}),
    ...(spec.workingDir ? { WorkingDir: spec.workingDir } : {}),
    Labels: labels,
    HostConfig: {
      NetworkMode: `container:${podSandboxId}`,
      IpcMode: `container:${podSandboxId}`,
      ...(spec.mounts && spec.mounts.length > 0 ? { Binds: spec.mounts.map((m) => `${m.hostPath}:${m.containerPath}${m.readonly ? ':ro' : ''}`) } : {}),
      ...(cgroupParent ? { CgroupParent: cgroupParent } : {}),
    },
  };
}

export interface DockershimOptions {
  /** unix:///var/run/docker.sock (the kubelet's --docker-endpoint). */
  readonly endpoint: string;
  /** The sandbox image (the kubelet's --pod-infra-container-image). */
  readonly infraImage: string;
  readonly logger: Logger;
  readonly timeoutMs?: number;
}

export interface DockershimRuntime extends RuntimeReader, RuntimeWriter {
  readonly docker: DockerClient;
  close(): void;
}

export function createDockershimRuntime(options: DockershimOptions): DockershimRuntime {
  const docker = createDockerClient({ socketPath: options.endpoint, timeoutMs: options.timeoutMs ?? 20_000 });
  const writer: DockerWriter = createDockerWriter({ socketPath: options.endpoint, timeoutMs: options.timeoutMs ?? 60_000 });
  const reader = dockershimReader(docker);
  const log = options.logger.child({ component: 'dockershim' });

  const create = async (name: string, body: DockerCreateBody): Promise<string> => {
    try {
      return await writer.createContainer(name, body);
    } catch (err) {
      if (!(err instanceof DockerConflictError)) throw err;
      log.warn({ name }, 'Unable to create container due to conflict. Attempting to remove container');
      await writer.removeContainer(name, false);
      return writer.createContainer(name, body);
    }
  };
  const containersOf = async (sandboxId: string) => docker.listContainers({ all: true, labels: { [DOCKERSHIM_SANDBOX_ID_LABEL]: sandboxId } });

  return {
    docker,
    version: () => reader.version(),
    listContainers: (filter) => reader.listContainers(filter),
    listPodSandboxes: (filter) => reader.listPodSandboxes(filter),
    containerStatus: (id) => reader.containerStatus(id),
    async runPodSandbox(spec) {
      const id = await create(sandboxName(spec), sandboxCreateBody(spec, options.infraImage, spec.cgroupParent));
      await writer.startContainer(id);
      return id;
    },
    async stopPodSandbox(id) {
      // CRI: StopPodSandbox force-terminates the sandbox's running containers too.
      for (const c of await containersOf(id)) if (c.state === 'running') await writer.stopContainer(c.id, 0);
      await writer.stopContainer(id, Dockershim.defaultSandboxGracePeriod);
    },
    async removePodSandbox(id) {
      // CRI: RemovePodSandbox removes the sandbox's containers, forcibly if they still run.
      for (const c of await containersOf(id)) await writer.removeContainer(c.id, true);
      await writer.removeContainer(id, true);
    },
    async createContainer(podSandboxId, spec, sandbox) {
      return create(containerName(sandbox, spec), containerCreateBody(podSandboxId, spec, sandbox, sandbox.cgroupParent));
    },
    startContainer: (id) => writer.startContainer(id),
    stopContainer: (id, timeoutSeconds) => writer.stopContainer(id, timeoutSeconds),
    // docker_container.go RemoveContainer: RemoveVolumes and Force.
    removeContainer: (id) => writer.removeContainer(id, true),
    close: () => undefined,
  };
}
