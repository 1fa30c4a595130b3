/** Runs the engine for `kip upgrade` and `kip resume`: Ctrl-C pauses (running nodes finish), the outcome becomes the exit code. */
import type { AgentPort } from '../fleet/port.ts';
import type { ClusterApi } from '../ports.ts';
import { runEngine } from '../rollout/engine.ts';
import type { RunSpec } from '../rollout/spec.ts';
import type { RunStore } from '../store/store.ts';
import { EXIT_FAILED, EXIT_OK } from '../io.ts';
import type { CommandContext } from './common.ts';

export async function runLoop(ctx: CommandContext, runId: string, spec: RunSpec, deps: { store: RunStore; cluster: ClusterApi; agents: ReadonlyMap<string, AgentPort>; stage?: (node: string, agent: AgentPort, version: string) => Promise<void> }): Promise<number> {
  const ac = new AbortController();
  const onSignal = (): void => {
    ctx.io.stderr('interrupt: pausing after the nodes in flight (Ctrl-C again does not cancel them)\n');
    ac.abort();
  };
  process.once('SIGINT', onSignal);
  try {
    const outcome = await runEngine(runId, spec, {
      ...deps, clock: ctx.ports.clock, ...(ctx.ports.pollMs ? { pollMs: ctx.ports.pollMs } : {}), logger: ctx.ports.logger, signal: ac.signal, progress: (l) => ctx.io.stderr(`${l}\n`),
    });
    if (outcome.phase === 'succeeded') {
      ctx.io.stdout(`run ${runId} succeeded: every kubelet runs ${spec.target}\n`);
      return EXIT_OK;
    }
    ctx.io.stdout(`run ${runId} paused: ${outcome.reason}\nkip status shows the nodes; fix the cause, then kip resume\n`);
    return EXIT_FAILED;
  } finally {
    process.off('SIGINT', onSignal);
  }
}
