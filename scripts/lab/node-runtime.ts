/**
 * A worker's container runtime as kip-agent on that node reads it, from its lab.json record: CRI
 * over its containerd's socket, or dockerd's Engine API with dockershim's labels (the same reader
 * the agent picks on a Docker node). For tests and the demo, which look at the runtime from the host.
 */
import { createCriClient } from '../../agent/runtime/cri.ts';
import { createDockerClient, dockershimReader } from '../../agent/runtime/docker.ts';
import type { RuntimeReader } from '../../agent/runtime/types.ts';
import { LabError, type LabNodeRecord } from './lab.ts';

export interface NodeRuntimeReader extends RuntimeReader {
  close(): void;
}

export function openNodeRuntime(node: LabNodeRecord, timeoutMs = 10_000): NodeRuntimeReader {
  if (node.dockerd) {
    const reader = dockershimReader(createDockerClient({ socketPath: node.dockerd.socket, timeoutMs }));
    return { ...reader, close: () => undefined };
  }
  if (node.containerd) return createCriClient({ address: `unix://${node.containerd.socket}`, timeoutMs });
  throw new LabError('LAB_NO_RUNTIME', `lab node ${node.name} has no containerd or dockerd in lab.json`, { node: node.name });
}

/** The socket the runtime's containerd shims carry as -address: the worker's containerd, or dockerd's own. */
export function shimAddressOf(node: LabNodeRecord): string | undefined {
  return node.containerd?.socket ?? node.dockerd?.innerContainerdSocket;
}
