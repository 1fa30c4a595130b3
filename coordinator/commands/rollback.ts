/**
 * `kip rollback [--nodes a,b]`: rolls back the nodes of the run's current kubelet step through
 * their agents (Rollback with the agent run ids in the journal), each journaled before and after,
 * and leaves the run paused (kip resume upgrades them again). The control plane is not
 * downgraded: the command says so and names the etcd snapshot the run kept.
 */
import type { Command } from 'commander';
import type { AgentPort } from '../fleet/port.ts';
import type { RollbackTarget } from '../rollout/rollback-select.ts';
import { InvalidInputError, isKipError } from '../../lib/errors.ts';
import { etcdSnapshotsOf } from '../rollout/control-plane.ts';
import { controllersRolledBack, describeRolledBack, reopenKubeletStep } from '../rollout/control-plane-undo.ts';
import { rollbackTargets } from '../rollout/rollback-select.ts';
import { parseSpec } from '../rollout/spec.ts';
import { EXIT_FAILED, EXIT_OK } from '../io.ts';
import { addAgentOptions, addDryRun, addKubeOptions, addStateDir, kubeOptions, runAction, stateDirOf, type CommandContext } from './common.ts';
import { checkAgentsAnswer, closeFleet, connectFleet, type AgentFlags } from './fleet-setup.ts';
import { LOCK_TTL_MS } from './upgrade.ts';

export const ACTION_ROLLBACK = 'rollback';

interface RollbackFlags extends AgentFlags {
  run?: string;
  nodes?: string;
  dryRun: boolean;
  kubeconfig?: string;
  context?: string;
}

export function registerRollback(program: Command, ctx: CommandContext): void {
  const cmd = program.command('rollback').description('roll back the nodes of the current step through their agents (the control plane is not downgraded)')
    .option('--run <id>', 'the run (default: the newest of this cluster)')
    .option('--nodes <names>', 'only these nodes of the current step (comma-separated)');
  for (const add of [addKubeOptions, addAgentOptions, addStateDir, addDryRun]) add(cmd);
  cmd.action((opts: RollbackFlags) => runAction(ctx, 'rollback', () => rollback(ctx, opts)));
}

async function rollback(ctx: CommandContext, opts: RollbackFlags): Promise<number> {
  const cluster = await ctx.ports.cluster(kubeOptions(ctx.io, opts));
  const store = ctx.ports.openStore(stateDirOf(ctx.io, opts));
  try {
    const run = opts.run ? store.getRun(opts.run) : store.latestRun(cluster.server);
    if (!run) throw new InvalidInputError('RUN_NOT_FOUND', `no run${opts.run ? ` ${opts.run}` : ` of ${cluster.server}`} in ${stateDirOf(ctx.io, opts)}`, {});
    const spec = parseSpec(run.spec);
    const only = opts.nodes?.split(',').map((s) => s.trim()).filter(Boolean);
    const { step, targets } = rollbackTargets(spec, store.nodes(run.id), only);
    const snapshots = etcdSnapshotsOf(run.id, { store });
    const snap = snapshots[snapshots.length - 1];
    const rolledBack = describeRolledBack(controllersRolledBack(store.actions(run.id)));
    const cpNote = spec.controlPlane?.length
      ? `the control plane is not downgraded (kube-apiserver, controller-manager and scheduler stay where this run took them${rolledBack ? ', except as below' : ''}); the etcd snapshot taken before it moved is ${snap ? `${snap.path} (revision ${snap.revision}, sha256 ${snap.sha256})` : 'not taken yet'}${rolledBack ? `\n${rolledBack}` : ''}`
      : 'this run changes no control-plane component; nothing there to roll back';
    if (targets.length === 0) {
      ctx.io.stdout(`run ${run.id}: no node of ${step === undefined ? 'this run' : `step ${step + 1}`} to roll back\n${cpNote}\n`);
      return EXIT_OK;
    }
    const lines = targets.map((t) => `${t.node}: ${t.agentRunIds.map((a) => `${a.component} (agent run ${a.runId})`).join(', then ')} back from ${t.to}`);
    if (opts.dryRun) {
      ctx.io.stdout(`would roll back, in run ${run.id}, step ${step! + 1}:\n${lines.map((l) => `  ${l}`).join('\n')}\n${cpNote}\n(dry run: nothing changed)\n`);
      return EXIT_OK;
    }
    const agents = await connectFleet(ctx, cluster, opts);
    try {
      await checkAgentsAnswer(agents, targets.map((t) => t.node));
      await cluster.lock.acquire(ctx.ports.identity, run.id, LOCK_TTL_MS, ctx.ports.clock.now());
      const clock = ctx.ports.clock;
      let failed = 0;
      for (const t of targets) {
        const agent = agents.get(t.node)!;
        const stale = await staleAtOldVersion(agent, t.from);
        for (const a of t.agentRunIds) {
          const id = store.beginAction({ runId: run.id, kind: ACTION_ROLLBACK, node: t.node, payload: JSON.stringify({ step: t.step, component: a.component, agentRunId: a.runId }), at: clock.now() });
          try {
            const state = await agent.rollback(a.runId);
            const ok = state.phase === 'RUN_ROLLED_BACK';
            store.finishAction(id, ok ? 'ok' : 'error', JSON.stringify({ phase: state.phase, errorCode: state.errorCode }), clock.now());
            ctx.io.stdout(`${t.node}: ${a.component} ${ok ? 'rolled back' : `NOT rolled back (${state.phase} ${state.errorCode} ${state.errorMessage})`}\n`);
            if (!ok) failed++;
          } catch (err) {
            // kube-proxy may never have started on this node (its run comes after the kubelet's).
            const missing = a.component === 'kube-proxy' && isKipError(err) && /NOT_FOUND|UNKNOWN_RUN|RUN_NOT_FOUND/.test(err.code);
            store.finishAction(id, missing ? 'ok' : 'error', JSON.stringify({ error: err instanceof Error ? err.message : String(err) }), clock.now());
            if (!missing) {
              failed++;
              ctx.io.stdout(`${t.node}: ${a.component} NOT rolled back: ${err instanceof Error ? err.message : String(err)}\n`);
            }
          }
        }
        const warning = await unpatchedWarning(agent, t, stale);
        if (warning) ctx.io.stdout(warning);
        const rec = store.nodes(run.id).find((r) => r.step === t.step && r.node === t.node);
        if (rec) store.putNode({ ...rec, phase: 'rolled-back', finishedAt: clock.now() });
        store.addEvent({ runId: run.id, at: clock.now(), node: t.node, kind: 'rolled-back', message: `kubelet back from ${t.to} (kip rollback)` });
      }
      // In a control-plane run the step's "kubelets" action may have finished ok: reopen it, or resume would go on past them.
      reopenKubeletStep(store, run.id, spec, step!, clock.now());
      const reason = `kip rollback: ${targets.map((t) => t.node).join(', ')} rolled back from ${targets[0]!.to}; kip resume upgrades them again`;
      store.setRunPhase(run.id, 'paused', reason, clock.now());
      store.addEvent({ runId: run.id, at: clock.now(), node: '', kind: 'paused', message: reason });
      ctx.io.stdout(`${cpNote}\n`);
      return failed > 0 ? EXIT_FAILED : EXIT_OK;
    } finally {
      closeFleet(agents);
    }
  } finally {
    store.close();
  }
}

/**
 * The containers whose hash label is stale at the version rolled back to, asked before the
 * rollback (afterwards an unpatched kubelet would already be restarting them); undefined when
 * the agent cannot tell (no kubeconfig, an older agent).
 */
async function staleAtOldVersion(agent: AgentPort, from: string): Promise<readonly string[] | undefined> {
  if (!agent.hashReport || from === '') return undefined;
  return agent.hashReport(from).then((r) => r.predictedRestarts, () => undefined);
}

/**
 * An upstream kubelet reads no skip file: it compares every running container's hash label with
 * its own hash of the spec and restarts the ones that differ (kuberuntime_manager.go
 * computePodActions, 1.10 to 1.17). Containers the newer kubelet created or recreated carry the
 * newer hash, so an unpatched old kubelet restarts them once more. The rollback cannot undo that;
 * the operator must hear it.
 */
async function unpatchedWarning(agent: AgentPort, t: RollbackTarget, stale: readonly string[] | undefined): Promise<string | undefined> {
  const info = await agent.getNode().catch(() => undefined);
  if (info?.kubeletPatched !== false) return undefined;
  const running = info.kubeletVersion || t.from;
  if (stale === undefined) {
    return `${t.node}: WARNING: the kubelet now running (${running}) is upstream, not patched: it reads no skip file, and restarts every container whose hash label it does not compute (those the ${t.to} kubelet created or recreated); kip could not ask the agent which\n`;
  }
  if (stale.length === 0) return undefined;
  const shown = stale.slice(0, 5).join(', ') + (stale.length > 5 ? `, and ${stale.length - 5} more` : '');
  return `${t.node}: WARNING: the kubelet now running (${running}) is upstream, not patched: it reads no skip file, and restarts the ${stale.length} container${stale.length === 1 ? '' : 's'} whose hash label is not its own (the ${t.to} kubelet created or recreated them): ${shown}\n`;
}
