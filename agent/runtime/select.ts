/**
 * The runtime reader the agent uses: the one the kubelet uses, found again whenever the kubelet's
 * command line changes (an upgrade may move a node from dockershim to a CRI runtime). While the
 * kubelet's command line cannot be read (kubelet stopped), calls fail with RUNTIME_UNDETECTED: the
 * consistency loop then counts the information as incomplete, never as "no containers".
 */
import type { Logger } from '../../lib/logger.ts';
import { createCriClient } from './cri.ts';
import { detectRuntime, flagValue, RuntimeDetectionError, type DetectedRuntime } from './detect.ts';
import { createDockerClient, dockershimReader } from './docker.ts';
import type { ContainerFilter, ContainerInfo, ContainerStatusInfo, PodSandboxFilter, PodSandboxInfo, RuntimeReader, RuntimeVersion } from './types.ts';

export interface OpenedReader {
  readonly reader: RuntimeReader;
  close(): void;
}

/** A reader for a detected runtime: dockerd through the Engine API with dockershim's labels, or CRI. */
export function openRuntimeReader(runtime: DetectedRuntime, logger: Logger): OpenedReader {
  if (runtime.kind === 'docker') return { reader: dockershimReader(createDockerClient({ socketPath: runtime.endpoint })), close: () => {} };
  const cri = createCriClient({ address: runtime.endpoint, logger });
  return { reader: cri, close: () => cri.close() };
}

export interface AutoRuntimeDeps {
  /** The running kubelet's argv (from /proc/<MainPID>/cmdline); undefined when it is not running. */
  readonly kubeletArgv: () => Promise<readonly string[] | undefined>;
  /** Reads a file of the node (the kubelet's --config); undefined when absent. */
  readonly readText: (path: string) => Promise<string | undefined>;
  /** The kubelet's minor version when known. */
  readonly kubeletMinor?: () => Promise<number | undefined>;
  /** An explicit choice from the agent config; skips detection. */
  readonly fixed?: DetectedRuntime;
  readonly open?: (runtime: DetectedRuntime, logger: Logger) => OpenedReader;
  readonly logger: Logger;
}

export interface AutoRuntime extends RuntimeReader {
  /** The runtime in use (detected on demand). */
  current(): Promise<DetectedRuntime>;
  close(): void;
}

export function autoRuntime(deps: AutoRuntimeDeps): AutoRuntime {
  const open = deps.open ?? openRuntimeReader;
  let key = '';
  let opened: { runtime: DetectedRuntime; handle: OpenedReader } | undefined;

  const resolve = async (): Promise<{ runtime: DetectedRuntime; handle: OpenedReader }> => {
    let runtime: DetectedRuntime;
    if (deps.fixed) runtime = deps.fixed;
    else {
      const argv = await deps.kubeletArgv();
      if (argv === undefined || argv.length === 0) throw new RuntimeDetectionError('the kubelet is not running: its container runtime cannot be read from its command line');
      const configPath = flagValue(argv, 'config');
      const kubeletConfig = configPath ? await deps.readText(configPath) : undefined;
      const kubeletMinor = await deps.kubeletMinor?.();
      runtime = detectRuntime({ argv, ...(kubeletConfig !== undefined ? { kubeletConfig } : {}), ...(kubeletMinor !== undefined ? { kubeletMinor } : {}) });
    }
    const k = `${runtime.kind} ${runtime.endpoint}`;
    if (!opened || k !== key) {
      opened?.handle.close();
      opened = { runtime, handle: open(runtime, deps.logger) };
      key = k;
      deps.logger.info({ runtime: runtime.kind, endpoint: runtime.endpoint, source: runtime.source }, 'reading the kubelet\'s container runtime');
    }
    return opened;
  };
  const r = async (): Promise<RuntimeReader> => (await resolve()).handle.reader;
  return {
    current: async () => (await resolve()).runtime,
    version: async (): Promise<RuntimeVersion> => (await r()).version(),
    listContainers: async (filter?: ContainerFilter): Promise<ContainerInfo[]> => (await r()).listContainers(filter),
    listPodSandboxes: async (filter?: PodSandboxFilter): Promise<PodSandboxInfo[]> => (await r()).listPodSandboxes(filter),
    containerStatus: async (id: string): Promise<ContainerStatusInfo> => (await r()).containerStatus(id),
    close: () => {
      opened?.handle.close();
      opened = undefined;
    },
  };
}

/** The agent config's criEndpoint: "auto" (undefined: detect), "docker:<address>", or a CRI address. */
export function runtimeFromConfig(value: string): DetectedRuntime | undefined {
  if (value === '' || value === 'auto') return undefined;
  if (value.startsWith('docker:')) return { kind: 'docker', endpoint: value.slice('docker:'.length), source: 'agent config criEndpoint' };
  return { kind: 'cri', endpoint: value, source: 'agent config criEndpoint' };
}
