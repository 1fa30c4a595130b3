/** What a run does, fixed when it is created and stored with it (so `kip resume` needs no flags). */
import type { KubeletPlanKind } from '../plan/path.ts';

export interface KubeletStepSpec {
  /** Position in the run. */
  readonly index: number;
  readonly to: string;
  readonly nodes: readonly { readonly name: string; readonly from: string; readonly zone: string }[];
}

export interface RunSpec {
  readonly target: string;
  readonly plan: KubeletPlanKind;
  readonly steps: readonly KubeletStepSpec[];
  readonly maxConcurrency: number;
  readonly maxUnavailable: number;
  readonly canary: { readonly count: number } | { readonly nodes: readonly string[] };
  /** A node not done (agent run, Ready, pods settled) within this pauses the run. */
  readonly nodeTimeoutMs: number;
  /** After the agent's run: the Node Ready with the new kubeletVersion within this. */
  readonly readyTimeoutMs: number;
  /** The agent's verification window; 0 = the agent's default. */
  readonly verifyTimeoutMs: number;
  readonly allowUnpatched: boolean;
  readonly allowDroppedFlags: readonly string[];
  /** Stage binaries from here before each node (idempotent); absent: they must be staged. */
  readonly releasesDir: string | undefined;
}

export function parseSpec(text: string): RunSpec {
  return JSON.parse(text) as RunSpec;
}
