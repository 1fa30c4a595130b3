/**
 * Control-plane steps of an in-place upgrade on the lab's control-plane node, through its
 * systemd units (seed procedure steps 4, 5 and 8): stop the controller-manager and scheduler,
 * swap the apiserver's launcher and config to a new version and restart it, start the
 * controllers again at a version. The launchers are written through the node's root on the host
 * (the overlay the node sees) and each change goes to a temp file renamed into place.
 */
import { rename, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import type { Exec } from '../../lib/exec.ts';
import { KipError } from '../../lib/errors.ts';
import { CONTROL_PLANE_PATHS, apiserverConfig, type Runtime } from './node-config.ts';
import { labProgramScript } from './launchers.ts';
import { nodeExec, REPO_DIR, type LabNodeRecord, type LabState } from './lab.ts';
import { writeSchedulerLauncher } from './scheduler/launcher.ts';
import { writeControllerManagerLauncher } from './controller-manager/launcher.ts';

export class ControlPlaneError extends KipError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('LAB_CONTROL_PLANE', message, details);
  }
}

const UNITS = { apiserver: 'kube-apiserver.service', scheduler: 'kube-scheduler.service', controllerManager: 'kube-controller-manager.service' } as const;

function controlPlaneNode(state: LabState): LabNodeRecord & { leaderPid: number } {
  const cp = state.nodes.find((n) => n.role === 'control-plane');
  if (!cp || cp.leaderPid === undefined) throw new ControlPlaneError('the lab has no running control-plane node: run kip-lab up');
  return cp as LabNodeRecord & { leaderPid: number };
}

async function systemctl(exec: Exec, node: { leaderPid: number }, verb: string, unit: string): Promise<void> {
  const r = await nodeExec(exec, node.leaderPid, 'systemctl', [verb, unit], 120_000);
  if (r.exitCode !== 0) throw new ControlPlaneError(`systemctl ${verb} ${unit} failed: ${r.stderr.trim() || r.stdout.trim()}`, { unit, verb });
}

async function replace(root: string, path: string, content: string, mode: number): Promise<void> {
  const target = join(root, path);
  const tmp = `${target}.kip-new`;
  await writeFile(tmp, content, { mode });
  await chmod(tmp, mode);
  await rename(tmp, target);
}

const runtime = (): Runtime => ({ nodeBinary: process.execPath, repoDir: REPO_DIR });

/** Seed step 4: no controller acts on a half-upgraded cluster. */
export async function stopControllers(state: LabState, exec: Exec): Promise<void> {
  const cp = controlPlaneNode(state);
  await systemctl(exec, cp, 'stop', UNITS.controllerManager);
  await systemctl(exec, cp, 'stop', UNITS.scheduler);
}

/** Seed step 5: the apiserver at `version`, with DefaultTolerationSeconds as given. */
export async function upgradeApiserver(state: LabState, exec: Exec, version: string, defaultTolerationSeconds: boolean): Promise<void> {
  const cp = controlPlaneNode(state);
  await replace(cp.root, CONTROL_PLANE_PATHS.apiserverConfig, apiserverConfig({ address: cp.address, gitVersion: version, defaultTolerationSeconds }), 0o644);
  await replace(cp.root, CONTROL_PLANE_PATHS.apiserverBinary, labProgramScript({ program: 'kube-apiserver', version, nodeBinary: runtime().nodeBinary, repoDir: runtime().repoDir }), 0o755);
  await systemctl(exec, cp, 'restart', UNITS.apiserver);
}

/** Seed step 8: scheduler and controller-manager at `version`, started again. */
export async function startControllers(state: LabState, exec: Exec, version: string): Promise<void> {
  const cp = controlPlaneNode(state);
  const rt = runtime();
  await writeSchedulerLauncher(join(cp.root, CONTROL_PLANE_PATHS.schedulerBinary), { version, nodeBinary: rt.nodeBinary, repoDir: rt.repoDir });
  await writeControllerManagerLauncher(join(cp.root, CONTROL_PLANE_PATHS.controllerManagerBinary), { version, nodeBinary: rt.nodeBinary, repoDir: rt.repoDir });
  await systemctl(exec, cp, 'start', UNITS.scheduler);
  await systemctl(exec, cp, 'start', UNITS.controllerManager);
}
