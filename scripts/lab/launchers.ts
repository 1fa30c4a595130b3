/**
 * The lab's versioned "binaries" for kube-apiserver, kube-scheduler, kube-controller-manager and
 * kube-proxy: one executable shell launcher per component and version, the same shape as the
 * kubelet's (./kubelet/launcher.ts). What the lab installs at bring-up and what an upgrade stages
 * through kip-agent's StageBinary are the same bytes, so the agent checks them as it would a Go
 * binary: `--version` prints `Kubernetes vX.Y.Z` and `--help` cobra's `Usage:\n  <program> [flags]`
 * (answered by the shell, as fast as a Go binary: the agent runs both on every staged file), and the unit's MainPID is the
 * launcher itself (the shell stays, forwards SIGTERM/SIGINT and exits with the program's status),
 * so a check that MainPID runs the unit's binary holds.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KipError } from '../../lib/errors.ts';
import { programCommand } from './programs.ts';

export const LAB_PROGRAMS = ['kube-apiserver', 'kube-scheduler', 'kube-controller-manager', 'kube-proxy'] as const;
export type LabProgram = (typeof LAB_PROGRAMS)[number];

/** Versions the lab has launchers for (the kubelet's list, ./kubelet/launcher.ts, is the same). */
export const LAB_PROGRAM_VERSIONS = ['v1.10.13', 'v1.11.10', 'v1.12.10', 'v1.13.12', 'v1.14.10', 'v1.15.12', 'v1.16.15', 'v1.17.17'] as const;

const MAIN: Readonly<Record<LabProgram, string>> = {
  'kube-apiserver': 'scripts/lab/apiserver/main.ts',
  'kube-scheduler': 'scripts/lab/scheduler/main.ts',
  'kube-controller-manager': 'scripts/lab/controller-manager/main.ts',
  'kube-proxy': 'scripts/lab/kube-proxy/main.ts',
};

const REPO = join(dirname(fileURLToPath(import.meta.url)), '../..');

export interface LabProgramOptions {
  readonly program: LabProgram;
  readonly version: string;
  /** Arguments the build carries before the unit's own (a behaviour of this "binary", e.g. the apiserver's admission defaults). */
  readonly buildArgs?: readonly string[];
  /** Node binary and repository paths as seen where the launcher runs (inside a node they are bind-mounted). */
  readonly nodeBinary?: string;
  readonly repoDir?: string;
  /** The lab's program bundles (./programs.ts); undefined: the sources through tsx. */
  readonly programsDir?: string | undefined;
}

function safe(s: string): string {
  if (!/^[A-Za-z0-9_./:=,@+-]*$/.test(s)) throw new KipError('LAB_BAD_ARGUMENT', `lab refuses to put ${JSON.stringify(s)} into a launcher`, { value: s });
  return s;
}

export function isLabProgram(name: string): name is LabProgram {
  return (LAB_PROGRAMS as readonly string[]).includes(name);
}

export function labProgramScript(o: LabProgramOptions): string {
  if (!/^v\d+\.\d+\.\d+$/.test(o.version)) throw new KipError('LAB_BAD_ARGUMENT', `lab launcher version must look like v1.13.12, got ${o.version}`, { version: o.version });
  const node = safe(o.nodeBinary ?? process.execPath);
  const repo = safe(o.repoDir ?? REPO);
  const build = (o.buildArgs ?? []).map((a) => ` "${safe(a)}"`).join('');
  return [
    '#!/bin/sh',
    `# kip-lab ${o.program} ${o.version}`,
    'for a in "$@"; do',
    // cobra's usage line names the program: kip-agent tells a kube-proxy from a kube-apiserver by it.
    `  case "$a" in --version|--version=true) echo 'Kubernetes ${o.version}'; exit 0;; --help|-h) printf 'Usage:\\n  ${o.program} [flags]\\n\\nFlags:\\n      --version   Print version information and quit\\n'; exit 0;; esac`,
    'done',
    `${programCommand(node, repo, MAIN[o.program], o.programsDir)} "--lab-kube-version=${o.version}"${build} "$@" &`,
    'child=$!',
    "trap 'kill -TERM $child 2>/dev/null' TERM INT",
    'wait $child',
    'status=$?',
    'while kill -0 $child 2>/dev/null; do wait $child; status=$?; done',
    'exit $status',
    '',
  ].join('\n');
}

/** The launcher as bytes with the sha256 and size StageBinary's metadata carries. */
export function labProgramBinary(o: LabProgramOptions): { data: Buffer; sha256: string; size: number } {
  const data = Buffer.from(labProgramScript(o));
  return { data, sha256: createHash('sha256').update(data).digest('hex'), size: data.length };
}

/** Writes the launcher through a temp file renamed into place (a running unit never sees half a file). */
export async function writeLabProgram(path: string, o: LabProgramOptions): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.kip-lab-new`;
  await writeFile(tmp, labProgramScript(o));
  await chmod(tmp, 0o755);
  await rename(tmp, path);
}
