/**
 * `--lab-run-images=DIR`: containers whose image is a lab program's (`<registry>/kube-apiserver:v1.13.12`,
 * also with kubeadm 1.10's `-amd64` suffix) run that program for real instead of sleeping: the
 * image tag picks the launcher `DIR/<version>/<program>` (the lab's releases folder,
 * scripts/lab/releases.ts), mounted at /kip-lab/bin/<program> in the lab's busybox image, with the
 * node binary, the repository and the host's /lib and /lib64 mounted at their own paths (the
 * launcher runs the program under the host's Node), and the pod's hostPath volumes translated to
 * where the node's files are on the host (`--lab-host-root`: containerd runs on the host, the
 * kubelet inside its node). So a kubeadm-style static pod manifest runs the control plane, and
 * rewriting its image tag (what kip-agent's static-pod swap does) runs another version.
 */
import { realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { objectField, stringField, type JsonNode } from '../../../lib/knowledge/hash/index.ts';
import type { MountSpec } from '../../../agent/runtime/types.ts';
import { isLabProgram, type LabProgram } from '../launchers.ts';

export interface RunImages {
  /** Host path of the releases folder (one subfolder per version). */
  readonly releasesDir: string;
  /** Host path of this node's root: hostPath volumes are node paths. */
  readonly hostRoot: string;
  /** Host paths mounted at the same path: the node binary, the repository (and its node_modules target). */
  readonly samePath: readonly string[];
}

const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The node binary, the repository and, when node_modules is a symlink out of it, its target. */
export function defaultSamePaths(): string[] {
  const modules = join(REPO, 'node_modules');
  let real = modules;
  try {
    real = realpathSync(modules);
  } catch {
    // no node_modules: the launcher will say so
  }
  return [process.execPath, REPO, ...(real === modules || real.startsWith(`${REPO}/`) ? [] : [real])];
}

export interface ImageRun {
  readonly program: LabProgram;
  readonly version: string;
  readonly command: string[];
  readonly mounts: MountSpec[];
  readonly env: Record<string, string>;
}

export function parseLabImage(image: string): { program: LabProgram; version: string } | undefined {
  const m = /(?:^|\/)([a-z-]+?)(?:-amd64)?:(v\d+\.\d+\.\d+)$/.exec(image);
  if (!m || !isLabProgram(m[1] as string)) return undefined;
  return { program: m[1] as LabProgram, version: m[2] as string };
}

function strings(node: JsonNode | undefined): string[] {
  if (node?.kind !== 'array') return [];
  return node.items.flatMap((n) => (n.kind === 'string' ? [n.value] : []));
}

/** What a container runs under --lab-run-images, or undefined when its image is not a lab program's. */
export function imageRun(container: JsonNode, pod: JsonNode, ri: RunImages): ImageRun | undefined {
  const parsed = parseLabImage(stringField(container, 'image') ?? '');
  if (!parsed) return undefined;
  const bin = `/kip-lab/bin/${parsed.program}`;
  const words = [...strings(objectField(container, 'command')), ...strings(objectField(container, 'args'))];
  // kubeadm writes `command: [kube-apiserver, --flags...]`: the program name is the image's binary.
  const command = words.length > 0 && (words[0] === parsed.program || words[0]?.endsWith(`/${parsed.program}`)) ? [bin, ...words.slice(1)] : [bin, ...words];
  const mounts: MountSpec[] = [
    { hostPath: join(ri.releasesDir, parsed.version, parsed.program), containerPath: bin, readonly: true },
    ...ri.samePath.map((p) => ({ hostPath: p, containerPath: p, readonly: true })),
    { hostPath: '/lib', containerPath: '/lib', readonly: true },
    { hostPath: '/lib64', containerPath: '/lib64', readonly: true },
  ];
  const volumes = objectField(objectField(pod, 'spec'), 'volumes');
  const hostPaths = new Map<string, string>();
  if (volumes?.kind === 'array') {
    for (const v of volumes.items) {
      const name = stringField(v, 'name');
      const path = stringField(objectField(v, 'hostPath'), 'path');
      if (name !== undefined && path !== undefined) hostPaths.set(name, path);
    }
  }
  const vms = objectField(container, 'volumeMounts');
  if (vms?.kind === 'array') {
    for (const vm of vms.items) {
      const path = hostPaths.get(stringField(vm, 'name') ?? '');
      const mountPath = stringField(vm, 'mountPath');
      if (path === undefined || mountPath === undefined) continue;
      const ro = objectField(vm, 'readOnly');
      mounts.push({ hostPath: join(ri.hostRoot, path), containerPath: mountPath, readonly: ro?.kind === 'bool' && ro.value });
    }
  }
  return { ...parsed, command, mounts, env: { PATH: '/kip-lab/bin:/usr/bin:/bin', HOME: '/tmp' } };
}
