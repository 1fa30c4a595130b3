/**
 * What the lab hands to kip for upgrades, the way a user has them for a real cluster:
 * - `STATE/releases/<version>/<component>`: every component "binary" of every lab version (the
 *   `kip stage|upgrade --releases DIR` layout, coordinator/stage/releases.ts), the same launchers
 *   the demo stages through StageBinary;
 * - `STATE/kip/pki/{ca.crt,coordinator.crt,coordinator.key}` (`--pki-dir`) and
 *   `STATE/kip/inventory.yaml` (`--inventory`: the control-plane node has no Node object, so its
 *   agent is found only through the inventory).
 *
 * The apiserver releases admit with DefaultTolerationSeconds (upstream's default); only the one
 * installed at bring-up has it off (apiserver.json), standing in for a cluster whose pods predate
 * the plugin, so the upgrade has pods without not-ready/unreachable tolerations to find and fix.
 */
import { chmod, copyFile, mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { launcherScript, LAB_KUBELET_VERSIONS } from './kubelet/launcher.ts';
import { LAB_PROGRAMS, labProgramBinary, type LabProgram } from './launchers.ts';
import type { Runtime } from './node-config.ts';

export type LabComponentName = LabProgram | 'kubelet';

export interface LabBinaryOptions {
  readonly rt: Runtime;
  /** The kubelet's skip-file path (a patched kubelet), or undefined for an upstream one. */
  readonly skipFilePath: string | undefined;
}

/** Build arguments of each released program (see the file comment). */
function buildArgs(program: LabProgram): string[] {
  return program === 'kube-apiserver' ? ['--lab-default-toleration-seconds=true'] : [];
}

/** One component "binary" of one version, as bytes. */
export function labReleaseBinary(component: LabComponentName, version: string, o: LabBinaryOptions): Buffer {
  if (component === 'kubelet') return Buffer.from(launcherScript({ version, skipFilePath: o.skipFilePath, ...o.rt }));
  return labProgramBinary({ program: component, version, buildArgs: buildArgs(component), ...o.rt }).data;
}

async function put(path: string, data: string | Buffer, mode: number): Promise<void> {
  const tmp = `${path}.kip-lab-new`;
  await writeFile(tmp, data, { mode });
  await chmod(tmp, mode);
  await rename(tmp, path);
}

/** Writes STATE/releases/<version>/<component> for every lab version; returns the folder. */
export async function writeLabReleases(stateDir: string, o: LabBinaryOptions): Promise<string> {
  const root = join(stateDir, 'releases');
  for (const version of LAB_KUBELET_VERSIONS) {
    const dir = join(root, version);
    await mkdir(dir, { recursive: true });
    for (const c of ['kubelet', ...LAB_PROGRAMS] as const) await put(join(dir, c), labReleaseBinary(c, version, o), 0o755);
  }
  return root;
}

export interface KipClientFiles {
  readonly pkiDir: string;
  readonly inventory: string;
}

/** --pki-dir and --inventory for kip against this lab. */
export async function writeKipClientFiles(stateDir: string, pki: { ca: string; cert: string; key: string }, agents: readonly { name: string; address: string }[]): Promise<KipClientFiles> {
  const pkiDir = join(stateDir, 'kip', 'pki');
  await mkdir(pkiDir, { recursive: true, mode: 0o700 });
  await copyFile(pki.ca, join(pkiDir, 'ca.crt'));
  await copyFile(pki.cert, join(pkiDir, 'coordinator.crt'));
  await copyFile(pki.key, join(pkiDir, 'coordinator.key'));
  await chmod(join(pkiDir, 'coordinator.key'), 0o600);
  const inventory = join(stateDir, 'kip', 'inventory.yaml');
  // One server certificate covers every lab agent address (IP SANs), so no serverName is needed.
  const lines = ['# kip --inventory for this lab: agents without a Node object (the control-plane node)', 'agents:', ...agents.map((a) => `  - name: ${a.name}\n    address: ${a.address}`), ''];
  await put(inventory, lines.join('\n'), 0o644);
  return { pkiDir, inventory };
}
