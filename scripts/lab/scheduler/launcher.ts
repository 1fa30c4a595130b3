/**
 * Writes the lab control-plane "binaries" per version: an executable launcher script that runs the
 * component's main.ts under Node with --lab-kube-version, like scripts/lab/kubelet/launcher.ts does
 * for the kubelet. Used for the scheduler here and the controller-manager (../controller-manager/launcher.ts).
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { programCommand } from '../programs.ts';

export const LAB_CONTROL_PLANE_VERSIONS = ['v1.10.13', 'v1.11.10', 'v1.12.10', 'v1.13.12', 'v1.14.10', 'v1.15.12', 'v1.16.15', 'v1.17.17'] as const;

const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..');

export type LabComponent = 'scheduler' | 'controller-manager';

export interface ComponentLauncherOptions {
  readonly component: LabComponent;
  readonly version: string;
  /** Node binary and repository paths as seen where the launcher runs (inside a node they are bind-mounted). */
  readonly nodeBinary?: string;
  readonly repoDir?: string;
  /** The lab's program bundles; undefined: the source through tsx. */
  readonly programsDir?: string | undefined;
}

export function componentLauncherScript(o: ComponentLauncherOptions): string {
  const node = o.nodeBinary ?? process.execPath;
  const repo = o.repoDir ?? REPO;
  return [
    '#!/bin/sh',
    `# kip-lab kube-${o.component} ${o.version}`,
    `exec ${programCommand(node, repo, `scripts/lab/${o.component}/main.ts`, o.programsDir)} "--lab-kube-version=${o.version}" "$@"`,
    '',
  ].join('\n');
}

export async function writeComponentLauncher(path: string, o: ComponentLauncherOptions): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, componentLauncherScript(o));
  await chmod(path, 0o755);
}

/** kube-scheduler launcher for one version. */
export function writeSchedulerLauncher(path: string, o: Omit<ComponentLauncherOptions, 'component'>): Promise<void> {
  return writeComponentLauncher(path, { ...o, component: 'scheduler' });
}
