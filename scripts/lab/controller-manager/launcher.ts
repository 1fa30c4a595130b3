/** kube-controller-manager launcher for one version (see ../scheduler/launcher.ts). */
import { writeComponentLauncher, type ComponentLauncherOptions } from '../scheduler/launcher.ts';

export { LAB_CONTROL_PLANE_VERSIONS } from '../scheduler/launcher.ts';

export function writeControllerManagerLauncher(path: string, o: Omit<ComponentLauncherOptions, 'component'>): Promise<void> {
  return writeComponentLauncher(path, { ...o, component: 'controller-manager' });
}
