/**
 * The lab kube-scheduler / kube-controller-manager "binaries" per version: the shared lab launcher
 * (../launchers.ts) for these two programs, kept under the names the tests and the lab used first.
 */
import { LAB_PROGRAM_VERSIONS, labProgramScript, writeLabProgram } from '../launchers.ts';

export const LAB_CONTROL_PLANE_VERSIONS = LAB_PROGRAM_VERSIONS;

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

const program = (c: LabComponent) => (c === 'scheduler' ? 'kube-scheduler' : 'kube-controller-manager');

export function componentLauncherScript(o: ComponentLauncherOptions): string {
  return labProgramScript({ program: program(o.component), version: o.version, nodeBinary: o.nodeBinary, repoDir: o.repoDir, programsDir: o.programsDir });
}

export function writeComponentLauncher(path: string, o: ComponentLauncherOptions): Promise<void> {
  return writeLabProgram(path, { program: program(o.component), version: o.version, nodeBinary: o.nodeBinary, repoDir: o.repoDir, programsDir: o.programsDir });
}

/** kube-scheduler launcher for one version. */
export function writeSchedulerLauncher(path: string, o: Omit<ComponentLauncherOptions, 'component'>): Promise<void> {
  return writeComponentLauncher(path, { ...o, component: 'scheduler' });
}
