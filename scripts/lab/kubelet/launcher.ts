/**
 * Writes one lab kubelet "binary" per version: an executable launcher script. The patched
 * variant carries the strings a real patched Go build holds (`cache.version.save` and the patch
 * package path `pkg/kubelet/cache_version`), so kip's binary inspection tells the two apart the
 * same way it does on a real node.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { helpText } from './flags.ts';
import { programCommand } from '../programs.ts';

export const LAB_KUBELET_VERSIONS = ['v1.10.13', 'v1.11.10', 'v1.12.10', 'v1.13.12', 'v1.14.10', 'v1.15.12', 'v1.16.15', 'v1.17.17'] as const;

const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..');

export interface LauncherOptions {
  readonly version: string;
  /** The skip-file path the patch reads, or undefined for an unpatched (upstream) kubelet. */
  readonly skipFilePath?: string;
  /** Node binary and repository paths as seen where the launcher runs (inside a node they are bind-mounted). */
  readonly nodeBinary?: string;
  readonly repoDir?: string;
  /** The lab's program bundles; undefined: the source through tsx. */
  readonly programsDir?: string | undefined;
}

export function launcherScript(o: LauncherOptions): string {
  const node = o.nodeBinary ?? process.execPath;
  const repo = o.repoDir ?? REPO;
  const patched = o.skipFilePath ? ` "--lab-patched=${o.skipFilePath}"` : '';
  // The shell stays the unit's main process (argv[1] is this launcher's path, as for any script
  // run by its interpreter), so kip-agent's check that MainPID runs the kubelet binary holds; it
  // forwards SIGTERM/SIGINT to the kubelet and exits with its status. --version and --help are
  // answered here, as fast as a Go binary answers them (kip-agent runs both on staged binaries,
  // and starting node with tsx takes seconds on a busy machine); the text is main.ts's own.
  const help = helpText(o.version).replace(/'/g, `'"'"'`);
  return [
    '#!/bin/sh',
    `# kip-lab kubelet ${o.version}${o.skipFilePath ? ` (patched: skips the container hash check per ${o.skipFilePath}; carries the markers of a real patched build: cache.version.save, pkg/kubelet/cache_version)` : ' (upstream behaviour)'}`,
    'for a in "$@"; do',
    `  case "$a" in --version|--version=true) echo 'Kubernetes ${o.version}'; exit 0;; --help|-h) printf '%s' '${help}'; exit 0;; esac`,
    'done',
    `${programCommand(node, repo, 'scripts/lab/kubelet/main.ts', o.programsDir)} "--lab-kube-version=${o.version}"${patched} "$@" &`,
    'child=$!',
    "trap 'kill -TERM $child 2>/dev/null' TERM INT",
    'wait $child',
    'status=$?',
    'while kill -0 $child 2>/dev/null; do wait $child; status=$?; done',
    'exit $status',
    '',
  ].join('\n');
}

export async function writeLauncher(path: string, o: LauncherOptions): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, launcherScript(o));
  await chmod(path, 0o755);
}
