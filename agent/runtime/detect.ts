/**
 * Which container runtime the kubelet talks to, from its command line and config file, so the
 * agent reads the same containers the kubelet manages (issue 11, item 1). An agent reading the
 * wrong runtime sees an empty or foreign container list; the consistency join then refuses to pass
 * (agent/watch/consistency.ts), but the self-check, predictions and events would be blind.
 *
 * Facts (kubernetes source):
 * - v1.10..v1.23: `--container-runtime` defaults to "docker" (kubetypes.DockerContainerRuntime) and
 *   `--docker-endpoint` to unix:///var/run/docker.sock (cmd/kubelet/app/options/container_runtime.go,
 *   NewContainerRuntimeOptions); "remote" means a CRI runtime at `--container-runtime-endpoint`.
 *   With "docker", the kubelet runs dockershim in-process; kip then reads dockerd directly.
 * - v1.24 removed dockershim (CHANGELOG-1.24, PR #97252): only "remote" is accepted.
 * - v1.27: `containerRuntimeEndpoint` is also a KubeletConfiguration field (PR #112136), and
 *   `--container-runtime` is gone (CHANGELOG-1.27, PR #114017). A flag on the command line wins over
 *   the config file, as for every kubelet setting.
 */
import { parse as parseYaml } from 'yaml';
import { InvalidInputError } from '../../lib/errors.ts';

export type DetectedRuntime =
  | { readonly kind: 'docker'; readonly endpoint: string; readonly source: string }
  | { readonly kind: 'cri'; readonly endpoint: string; readonly source: string };

export const DEFAULT_DOCKER_ENDPOINT = 'unix:///var/run/docker.sock';

export class RuntimeDetectionError extends InvalidInputError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('RUNTIME_UNDETECTED', message, details);
  }
}

/** The last value of `--name` (pflag: the last occurrence wins), in `--name=v` or `--name v` form. */
export function flagValue(argv: readonly string[], name: string): string | undefined {
  let value: string | undefined;
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === `--${name}` || a === `-${name}`) {
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith('-')) {
        value = next;
        i++;
      }
    } else if (a.startsWith(`--${name}=`)) value = a.slice(name.length + 3);
    else if (a.startsWith(`-${name}=`)) value = a.slice(name.length + 2);
  }
  return value;
}

/** containerRuntimeEndpoint from a KubeletConfiguration (YAML or JSON); undefined when absent or unreadable. */
export function configRuntimeEndpoint(configText: string | undefined): string | undefined {
  if (configText === undefined) return undefined;
  let doc: unknown;
  try {
    doc = parseYaml(configText);
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null) return undefined;
  const v = (doc as { containerRuntimeEndpoint?: unknown }).containerRuntimeEndpoint;
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * argv: the kubelet's command line (argv[0] is the binary). kubeletConfig: the text of the file its
 * `--config` names, when there is one. kubeletMinor: its minor version when known (24+: no dockershim).
 */
export function detectRuntime(input: { readonly argv: readonly string[]; readonly kubeletConfig?: string; readonly kubeletMinor?: number }): DetectedRuntime {
  const runtime = flagValue(input.argv, 'container-runtime');
  const endpointFlag = flagValue(input.argv, 'container-runtime-endpoint');
  const noDockershim = input.kubeletMinor !== undefined && input.kubeletMinor >= 24;
  const kind = runtime ?? (noDockershim ? 'remote' : 'docker');
  if (kind === 'docker') {
    if (noDockershim) {
      throw new RuntimeDetectionError(`--container-runtime=docker on a v1.${input.kubeletMinor} kubelet: dockershim was removed in v1.24; set --container-runtime-endpoint`, { kubeletMinor: input.kubeletMinor });
    }
    const endpoint = flagValue(input.argv, 'docker-endpoint');
    return { kind: 'docker', endpoint: endpoint ?? DEFAULT_DOCKER_ENDPOINT, source: endpoint ? '--docker-endpoint' : runtime ? '--container-runtime=docker (default --docker-endpoint)' : 'kubelet defaults (dockershim)' };
  }
  if (kind !== 'remote') {
    throw new RuntimeDetectionError(`the kubelet's --container-runtime is ${JSON.stringify(kind)}: kip reads "docker" (dockershim) and "remote" (CRI) runtimes only`, { containerRuntime: kind });
  }
  if (endpointFlag) return { kind: 'cri', endpoint: endpointFlag, source: '--container-runtime-endpoint' };
  const fromConfig = configRuntimeEndpoint(input.kubeletConfig);
  if (fromConfig) return { kind: 'cri', endpoint: fromConfig, source: 'kubelet config containerRuntimeEndpoint' };
  throw new RuntimeDetectionError('the kubelet uses a remote (CRI) runtime but names no endpoint (--container-runtime-endpoint or containerRuntimeEndpoint in its --config file); set the agent\'s runtimeEndpoint', {});
}
