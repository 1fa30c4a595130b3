/** What a step body gets for one component (and run): built in one place for runs, recovery and Release. */
import type { Logger } from '../../lib/logger.ts';
import type { ComponentSpec } from './component.ts';
import type { UpgradeAgentConfig, UpgradeAgentDeps } from './config.ts';
import type { RunStore } from './runstore.ts';
import type { StepContext } from './steps/index.ts';

export interface RunContextEnv {
  readonly config: Pick<UpgradeAgentConfig, 'stableMs' | 'pollMs'>;
  readonly deps: UpgradeAgentDeps;
  readonly runs: RunStore;
  readonly host: (nodePath: string) => string;
  readonly logger: Logger;
}

/** The step context of `spec`; whether the component is held is asked each time (Hold may change it). */
export function stepContext(env: RunContextEnv, spec: ComponentSpec, runId?: string): StepContext {
  const components = env.deps.components;
  return {
    component: spec,
    deps: env.deps,
    runs: env.runs,
    host: env.host,
    stableMs: env.config.stableMs,
    pollMs: env.config.pollMs,
    log: spec.name === 'kubelet' ? env.logger : env.logger.child({ component: spec.name, ...(runId ? { runId } : {}) }),
    isHeld: async () => spec.name !== 'kubelet' && components !== undefined && (await components.holdPhase(spec.name)) !== undefined,
  };
}
