/**
 * The checks before a run (and for Preflight), per kind: the kubelet (preflight.ts) or another
 * component (preflight-component.ts, after resolving it). No change is made on the node.
 */
import { resolveComponent, type ResolvedComponent } from './component-runs.ts';
import type { ComponentSpec } from './component.ts';
import type { UpgradeAgentConfig, UpgradeAgentDeps } from './config.ts';
import { evaluateComponent } from './preflight-component.ts';
import { evaluate, type PreflightOptions } from './preflight.ts';
import type { SkipFileInfo } from './types.ts';

export interface RunChecksEnv {
  readonly config: UpgradeAgentConfig;
  readonly deps: UpgradeAgentDeps;
  /** The kubelet's spec (from the agent config). */
  readonly kubelet: ComponentSpec;
  readonly host: (nodePath: string) => string;
  readonly skipFileInfo: () => Promise<SkipFileInfo>;
  /** Throws RUN_IN_PROGRESS when a run other than `exceptRunId` is claimed or unfinished. */
  readonly assertNoActiveRun: (exceptRunId?: string) => Promise<void>;
}

export type ComponentChecks = Awaited<ReturnType<typeof evaluateComponent>> & { readonly resolved: ResolvedComponent };

export async function checkComponent(env: RunChecksEnv, name: string, target: string, opts: { allowDroppedFlags?: readonly string[]; keepServedApis?: readonly string[] }, selfRunId?: string): Promise<ComponentChecks> {
  const r = await resolveComponent(name, env.deps, env.config, env.host);
  const ev = await evaluateComponent({ spec: r.spec, args: r.args, held: r.held, deps: env.deps, host: env.host, assertNoOtherRun: () => env.assertNoActiveRun(selfRunId) }, target, opts);
  return { ...ev, resolved: r };
}

export function checkKubelet(env: RunChecksEnv, target: string, opts: PreflightOptions, selfRunId?: string): ReturnType<typeof evaluate> {
  return evaluate({ component: env.kubelet, deps: env.deps, host: env.host, skipFileInfo: env.skipFileInfo, assertNoOtherRun: () => env.assertNoActiveRun(selfRunId) }, target, opts);
}
