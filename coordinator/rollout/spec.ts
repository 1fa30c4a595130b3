/** What a run does, fixed when it is created and stored with it (so `kip resume` needs no flags). */
import type { KubeletPlanKind } from '../plan/path.ts';

export interface KubeletStepSpec {
  /** Position in the run. */
  readonly index: number;
  readonly to: string;
  readonly nodes: readonly { readonly name: string; readonly from: string; readonly zone: string }[];
  /** Nodes whose agent runs kube-proxy as a component: upgraded to `to` right after their kubelet. */
  readonly kubeProxyNodes?: readonly string[];
}

export const CONTROLLERS = ['kube-controller-manager', 'kube-scheduler'] as const;
export type Controller = (typeof CONTROLLERS)[number];

/** A node that runs control-plane components (from its agent's GetNode). */
export interface ControlPlaneNodeSpec {
  readonly name: string;
  /** The control-plane components its agent lists (kube-apiserver, kube-controller-manager, kube-scheduler). */
  readonly components: readonly string[];
  /** Where this node's kube-apiserver answers (https://host:port); empty: the kubeconfig's server. */
  readonly apiserverUrl: string;
}

/** One minor of the control plane: a..g of the procedure around the kubelet steps it owns. */
export interface ControlPlaneStepSpec {
  /** Position among the control-plane steps. */
  readonly index: number;
  readonly from: string;
  readonly to: string;
  readonly nodes: readonly ControlPlaneNodeSpec[];
  /** The agent that takes the etcd snapshot. */
  readonly etcdNode: string;
  /** Indices into RunSpec.steps: the kubelets this step upgrades (e). */
  readonly kubeletSteps: readonly number[];
  /**
   * The controller-manager this step starts is the first with TaintBasedEvictions on by default
   * (from < 1.13 <= to; lib/knowledge/gates): pods are touched for their tolerations before it starts.
   */
  readonly touchTolerations: boolean;
}

/** What the run does in order: kubelet steps on their own, or a control-plane step with its kubelet steps. */
export type SequenceItem = { readonly kind: 'kubelets'; readonly step: number } | { readonly kind: 'control-plane'; readonly step: number };

export interface HookSpec {
  readonly when: 'pre' | 'post';
  /** Run as `sh -c command` (the operator wrote a shell command line). */
  readonly command: string;
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
  /** Absent (runs before control-plane steps existed): the kubelet steps in order. */
  readonly controlPlane?: readonly ControlPlaneStepSpec[];
  readonly sequence?: readonly SequenceItem[];
  readonly hooks?: readonly HookSpec[];
  readonly hookTimeoutMs?: number;
  /** kube-apiserver --runtime-config entries to keep served (UpgradeRequest.keep_served_apis). */
  readonly keepServedApis?: readonly string[];
  /** Gate on the agents' Watch streams (default on). */
  readonly watchGates?: boolean;
  /**
   * Per kubelet step, fixed when the run was created: the containers on its nodes and how many an
   * unpatched kubelet would restart (coordinator/plan/restarts.ts, the hash engine over the live
   * pods), for `kip report` to set the restarts seen against. Absent in older runs.
   */
  readonly predictedRestarts?: readonly StepPrediction[];
}

export interface StepPrediction {
  readonly step: number;
  readonly containers: number;
  readonly wouldRestart: number;
  /** The same per node of the step (absent in runs created before it was stored). */
  readonly nodes?: Readonly<Record<string, { readonly containers: number; readonly wouldRestart: number }>>;
}

export function parseSpec(text: string): RunSpec {
  return JSON.parse(text) as RunSpec;
}

/** The run's order; a spec without a sequence is its kubelet steps one after another. */
export function sequenceOf(spec: RunSpec): SequenceItem[] {
  if (spec.sequence) return [...spec.sequence];
  return spec.steps.map((s) => ({ kind: 'kubelets', step: s.index }));
}
