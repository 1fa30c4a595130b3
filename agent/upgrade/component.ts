/**
 * What a run upgrades, as the steps see it. Today one component, the kubelet; the steps read
 * its unit, binary, health endpoint and files from here (never from the agent config), so a later
 * change can run kube-proxy or a control-plane unit through the same journaled steps (issue 9).
 */
import type { UpgradeAgentConfig } from './config.ts';

export interface ComponentSpec {
  /** Short name for logs and messages ("kubelet"). */
  readonly name: string;
  /** The systemd unit that runs it. */
  readonly unit: string;
  /** The binary the unit runs (node path). */
  readonly binary: string;
  /** Its health endpoint: 200 with body "ok" when healthy. */
  readonly healthzUrl: string;
  /** More files backed up and restored with it, beside binary, unit, drop-ins and env files. */
  readonly backupPaths: readonly string[];
  /**
   * The skip file the patched kubelet reads (node path); undefined for a component that has
   * none. Only the kubelet decides container restarts by hash, so only it needs one.
   */
  readonly skipFile: string | undefined;
  /** Flag migration applies (agent/kubelet's tables are the kubelet's flags). */
  readonly migratesFlags: boolean;
}

export function kubeletComponent(config: Pick<UpgradeAgentConfig, 'kubeletUnit' | 'kubeletBinary' | 'healthzUrl' | 'backupPaths' | 'skipFile'>): ComponentSpec {
  return {
    name: 'kubelet',
    unit: config.kubeletUnit,
    binary: config.kubeletBinary,
    healthzUrl: config.healthzUrl,
    backupPaths: config.backupPaths,
    skipFile: config.skipFile,
    migratesFlags: true,
  };
}
