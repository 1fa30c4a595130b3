/** Domain types of the node upgrade. Enum values are spelled as in proto/kip/v1/agent.proto. */

export const FORWARD_STEPS = [
  'VERIFY_STAGED',
  'BACKUP',
  'MIGRATE_FLAGS',
  'WRITE_SKIP_FILE',
  'STOP_KUBELET',
  'SWAP_BINARY',
  'START_KUBELET',
  'VERIFY',
] as const;
export const ROLLBACK_STEPS = ['ROLLBACK_STOP', 'ROLLBACK_RESTORE', 'ROLLBACK_START', 'ROLLBACK_VERIFY'] as const;
export type ForwardStep = (typeof FORWARD_STEPS)[number];
export type RollbackStep = (typeof ROLLBACK_STEPS)[number];
export type Step = ForwardStep | RollbackStep | 'DONE' | 'ROLLED_BACK';
export type ActingStep = ForwardStep | RollbackStep;
export const ALL_ACTING_STEPS: readonly ActingStep[] = [...FORWARD_STEPS, ...ROLLBACK_STEPS];

export type StepStatus = 'STEP_STARTED' | 'STEP_DONE' | 'STEP_FAILED';
export type RunPhase = 'RUN_RUNNING' | 'RUN_SUCCEEDED' | 'RUN_ROLLING_BACK' | 'RUN_ROLLED_BACK' | 'RUN_FAILED';

export function isTerminal(phase: RunPhase): boolean {
  return phase === 'RUN_SUCCEEDED' || phase === 'RUN_ROLLED_BACK' || phase === 'RUN_FAILED';
}

export interface StepEvent {
  readonly runId: string;
  readonly seq: number;
  readonly step: Step;
  readonly status: StepStatus;
  readonly message: string;
  readonly atUnixMs: number;
  readonly phase: RunPhase;
  readonly errorCode: string;
  readonly journalTail: readonly string[];
  /** On VERIFY / ROLLBACK_VERIFY done: when the component first answered healthy (unix ms). */
  readonly firstHealthyAtUnixMs?: number;
  /** On VERIFY / ROLLBACK_VERIFY done: the verified main PID of the component's unit. */
  readonly mainPid?: number;
  /** On VERIFY / ROLLBACK_VERIFY done: stop step started -> first healthy, on the agent's clock. */
  readonly downtimeMs?: number;
  /** On ROLLBACK_RESTORE done: the skip file content written for the old kubelet ('' when restored as it was). */
  readonly skipFileWritten?: string;
  /** On a STEP_DONE that did nothing on purpose: why (SKIPPED_HELD: the component is held). */
  readonly skipped?: string;
}

/** Typed facts a step reports with its STEP_DONE event (callers read these, never the message). */
export type StepFacts = Partial<Pick<StepEvent, 'firstHealthyAtUnixMs' | 'mainPid' | 'downtimeMs' | 'skipFileWritten' | 'skipped'>>;

/** StepEvent.skipped: the step left a held component alone (Release starts and verifies it). */
export const SKIPPED_HELD = 'SKIPPED_HELD';

/** One file captured by the backup step (a node path, i.e. without the root prefix). */
export interface BackupEntry {
  readonly path: string;
  readonly present: boolean;
  /** Name of the copy inside the backup's files/ directory. */
  readonly copy?: string;
  readonly sha256?: string;
  readonly size?: number;
  readonly mode?: number;
}

export interface BackupManifest {
  readonly runId: string;
  readonly createdAtMs: number;
  readonly entries: readonly BackupEntry[];
  /** The kubelet unit's ExecStart argv and environment files at backup time. */
  readonly execStart: readonly string[];
  readonly environmentFiles: readonly string[];
  /** ExecMainStartTimestamp of the old kubelet, unix seconds (the skip file's time field). */
  readonly oldStartUnixSec: number;
}

export interface UpgradeOptions {
  readonly verifyTimeoutMs: number;
  readonly allowDroppedFlags: readonly string[];
  readonly allowUnpatched: boolean;
  /** kube-apiserver: API group/versions kept served through --runtime-config (UpgradeRequest.keep_served_apis). */
  readonly keepServedApis?: readonly string[];
}

/** The journal of one run: persisted (atomically) before every step acts. */
export interface RunRecord {
  readonly schema: 1;
  readonly runId: string;
  readonly fromVersion: string;
  readonly toVersion: string;
  readonly targetSha256: string;
  readonly options: UpgradeOptions;
  readonly phase: RunPhase;
  readonly step: Step;
  readonly stepStatus: StepStatus;
  readonly events: readonly StepEvent[];
  readonly startedAtMs: number;
  readonly finishedAtMs: number;
  readonly errorCode: string;
  readonly errorMessage: string;
  readonly journalTail: readonly string[];
  readonly flagNotes: readonly string[];
  /**
   * What the rollback wrote to the skip file for the old kubelet ('' when it restored the file
   * as it was before the run); absent until ROLLBACK_RESTORE is done.
   */
  readonly rollbackSkipFile?: string;
  /** The component the run upgrades; absent in runs of agents before components (= kubelet). */
  readonly component?: string;
  /** What the steps act on, fixed when the run began (absent = the configured kubelet). */
  readonly spec?: import('./component.ts').ComponentSpec;
  /** The component was held when the run began: swap only, Release starts and verifies it. */
  readonly heldAtStart?: boolean;
  /** sha256 of what SWAP_BINARY installed (the manifest of a static pod; the binary otherwise). */
  readonly installedSha256?: string;
  /** Set by Release: the held swap was started and verified healthy (or not: COMPONENT_UNHEALTHY). */
  readonly releasedAtMs?: number;
  readonly releaseError?: string;
}

export interface StagedBinaryInfo {
  readonly version: string;
  readonly sha256: string;
  readonly size: number;
  readonly patched: boolean;
  readonly path: string;
  /** The component the binary is for (kubelet for binaries staged before components). */
  readonly component: string;
}

export interface SkipFileInfo {
  readonly path: string;
  readonly present: boolean;
  readonly valid: boolean;
  readonly version: string;
  readonly unixSeconds: number;
  readonly raw: string;
  readonly problem: string;
}

export type CheckStatus = 'CHECK_OK' | 'CHECK_WARN' | 'CHECK_FAIL';
export interface Check {
  readonly name: string;
  readonly status: CheckStatus;
  readonly message: string;
  readonly fix: string;
}
export interface PreflightReport {
  readonly currentVersion: string;
  readonly targetVersion: string;
  readonly ok: boolean;
  readonly checks: readonly Check[];
}

export interface NodeInfo {
  readonly nodeName: string;
  readonly agentVersion: string;
  readonly kubeletBinary: string;
  readonly kubeletVersion: string;
  readonly kubeletSha256: string;
  readonly kubeletPatched: boolean;
  readonly unit: {
    readonly name: string;
    readonly activeState: string;
    readonly subState: string;
    readonly mainPid: number;
    readonly startedAtUnixMs: number;
    readonly privateTmp: boolean;
  };
  readonly skipFile: SkipFileInfo;
  readonly disks: readonly { path: string; freeBytes: number; totalBytes: number }[];
  readonly staged: readonly StagedBinaryInfo[];
  readonly lastRunId: string;
  readonly lastRunPhase: RunPhase | '';
}

export interface StageMetadata {
  readonly version: string;
  readonly sha256: string;
  readonly size: number;
  /** '' or absent = kubelet. */
  readonly component?: string;
}

export interface StageResult {
  readonly binary: StagedBinaryInfo;
  readonly alreadyStaged: boolean;
}
