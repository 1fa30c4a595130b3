/** Container runtime readers: CRI over a unix socket (containerd) and the Docker Engine API (dockershim nodes). */
export * from './types.ts';
export { createCriClient, normalizeCriAddress, CriError, type CriClient, type CriClientOptions, type CriErrorCode } from './cri.ts';
export { CRI_PROTO_LOADER_OPTIONS, CRI_PROTO_FILES, criServices } from './cri-proto.ts';
export {
  createDockerClient,
  dockershimReader,
  DockerError,
  DOCKER_API_VERSION,
  parseDockerTime,
  parseDockershimName,
  splitDockershimLabels,
  type DockerClient,
  type DockerClientOptions,
  type DockerContainerDetails,
  type DockerContainerSummary,
  type DockerErrorCode,
} from './docker.ts';
export * from './kube-labels.ts';
export { detectRuntime, flagValue, configRuntimeEndpoint, RuntimeDetectionError, DEFAULT_DOCKER_ENDPOINT, type DetectedRuntime } from './detect.ts';
export { autoRuntime, openRuntimeReader, runtimeFromConfig, type AutoRuntime, type AutoRuntimeDeps, type OpenedReader } from './select.ts';
