/**
 * Runs the engine for `kip upgrade` and `kip resume`: the Watch gates on every agent, the
 * control-plane engine, Ctrl-C pauses (running nodes finish), the outcome becomes the exit code.
 */
import { execaExec } from '../../lib/exec.ts';
import type { AgentPort } from '../fleet/port.ts';
import type { ClusterApi } from '../ports.ts';
import { runControlPlaneStep } from '../rollout/control-plane.ts';
import { runEngine } from '../rollout/engine.ts';
import type { RunSpec } from '../rollout/spec.ts';
import type { OpenedView } from '../rollout/cluster-view.ts';
import { WatchGates } from '../rollout/watch-gate.ts';
import type { Component } from '../stage/releases.ts';
import type { RunStore } from '../store/store.ts';
import { EXIT_FAILED, EXIT_OK } from '../io.ts';
import type { CommandContext } from './common.ts';

export interface RunLoopDeps {
  readonly store: RunStore;
  readonly cluster: ClusterApi;
  readonly agents: ReadonlyMap<string, AgentPort>;
  readonly stateDir: string;
  readonly stage?: (node: string, agent: AgentPort, version: string, component?: Component) => Promise<void>;
}

export async function runLoop(ctx: CommandContext, runId: string, spec: RunSpec, deps: RunLoopDeps): Promise<number> {
  const ac = new AbortController();
  const onSignal = (): void => {
    ctx.io.stderr('interrupt: pausing after the nodes in flight (Ctrl-C again does not cancel them)\n');
    ac.abort();
  };
  const progress = (l: string): void => ctx.io.stderr(`${l}\n`);
  const gates = spec.watchGates === false ? undefined : new WatchGates({ runId, store: deps.store, clock: ctx.ports.clock, logger: ctx.ports.logger, agents: deps.agents, progress });
  gates?.start();
  // The engine reads Nodes and Pods from a list + watch cache where the cluster port has one
  // (one list and one watch of each instead of lists every round and every look); should it not
  // start, the engine lists as before.
  let view: OpenedView | undefined;
  if (deps.cluster.openView) {
    try {
      view = await deps.cluster.openView();
    } catch (err) {
      ctx.ports.logger.warn({ err }, 'the Node/Pod cache did not start; the engine lists instead');
      progress(`the Node/Pod watch cache did not start (${err instanceof Error ? err.message : String(err)}): listing Nodes and Pods instead`);
    }
  }
  process.once('SIGINT', onSignal);
  try {
    const engineDeps = {
      store: deps.store, cluster: deps.cluster, agents: deps.agents, ...(deps.stage ? { stage: deps.stage } : {}), ...(gates ? { gates } : {}), ...(view ? { view } : {}),
      clock: ctx.ports.clock, ...(ctx.ports.pollMs ? { pollMs: ctx.ports.pollMs } : {}), logger: ctx.ports.logger, signal: ac.signal, progress,
    };
    const outcome = await runEngine(runId, spec, {
      ...engineDeps,
      controlPlaneStep: (index, runKubeletStep) => {
        const step = spec.controlPlane?.[index];
        if (!step) return Promise.resolve({ phase: 'paused', reason: `the run has no control-plane step ${index}` });
        return runControlPlaneStep(runId, spec, step, { ...engineDeps, exec: ctx.ports.exec ?? execaExec, stateDir: deps.stateDir, runKubeletStep });
      },
    });
    if (outcome.phase === 'succeeded') {
      ctx.io.stdout(`run ${runId} succeeded: ${spec.controlPlane?.length ? 'the control plane and ' : ''}every kubelet run${spec.controlPlane?.length ? '' : 's'} ${spec.target}\n`);
      return EXIT_OK;
    }
    ctx.io.stdout(`run ${runId} paused: ${outcome.reason}\nkip status shows the nodes; fix the cause, then kip resume (kip rollback rolls back the nodes of the current step)\n`);
    return EXIT_FAILED;
  } finally {
    process.off('SIGINT', onSignal);
    await view?.stop();
    await gates?.stop();
  }
}
