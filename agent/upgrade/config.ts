/** The agent configuration and collaborators the upgrade needs (agent/config.ts documents each option). */
import type { AgentConfig } from '../config.ts';
import type { Logger } from '../../lib/logger.ts';
import type { FileSystem } from './fs.ts';
import type { Clock, ComponentsPort, FaultHook, FlagMigrationPort, HealthPort, JournalPort, KubeletBinaryPort, ProcPort, StaticPodRuntimePort, SystemdPort, WorkloadPort } from './ports.ts';
import type { StageStore } from './stage.ts';
import type { NodeClaim } from './node-claim.ts';

export type UpgradeAgentConfig = Pick<
  AgentConfig,
  | 'nodeName' | 'stateDir' | 'rootPrefix' | 'kubeletBinary' | 'kubeletUnit' | 'skipFile' | 'healthzUrl'
  | 'verifyTimeoutMs' | 'stableMs' | 'pollMs' | 'journalLines' | 'backupPaths' | 'recovery'
> & { readonly agentVersion: string };

export interface UpgradeAgentDeps {
  readonly fs: FileSystem;
  readonly systemd: SystemdPort;
  readonly journal: JournalPort;
  readonly kubelet: KubeletBinaryPort;
  readonly flags: FlagMigrationPort;
  readonly health: HealthPort;
  readonly proc: ProcPort;
  readonly clock: Clock;
  readonly fault: FaultHook;
  readonly logger: Logger;
  readonly stage: StageStore;
  readonly workload?: WorkloadPort;
  /** Components other than the kubelet (issue 9); without it only the kubelet is upgraded. */
  readonly components?: ComponentsPort;
  /** The container runtime, to see a static pod's new container (static-pod components only). */
  readonly runtime?: StaticPodRuntimePort;
  /** The node's one mutating claim (node-claim.ts); the agent makes its own when absent. */
  readonly claim?: NodeClaim;
}
