/**
 * `kip finalize [--nodes a,b] [--dry-run]`: the end of the skip file's lifecycle. Removing the
 * file (the agent's consistency loop does, on complete information) changes nothing until the
 * kubelet restarts; this restarts the kubelet of every consistent node, one at a time, through
 * its agent (Heal, mode HEAL_FINALIZE: refused while the file is present or a container carries an
 * old hash), with the upgrade's gates: the agent compares the running containers before and after,
 * and the Node must be Ready again before the next node. A restarted container or a Node not Ready
 * stops the command (exit 1) with the nodes left untouched.
 */
import type { Command } from 'commander';
import { InvalidInputError } from '../../lib/errors.ts';
import { planFinalize, type FinalizeCandidate } from '../eyes/finalize.ts';
import { EXIT_FAILED, EXIT_OK } from '../io.ts';
import { AgentCallError } from '../fleet/errors.ts';
import type { HealResponse } from '../fleet/port.ts';
import { addAgentOptions, addDryRun, addKubeOptions, addOutput, addStateDir, kubeOptions, positiveInt, render, runAction, type CommandContext, type OutputFormat } from './common.ts';
import { closeFleet, connectFleet, type AgentFlags } from './fleet-setup.ts';
import { agentFor, healLine } from './heal.ts';
import { readyOf } from './status-live.ts';

interface FinalizeFlags extends AgentFlags {
  nodes?: string;
  dryRun: boolean;
  readyTimeout: string;
  output: OutputFormat;
  kubeconfig?: string;
  context?: string;
}

export function registerFinalize(program: Command, ctx: CommandContext): void {
  const cmd = program.command('finalize').description('restart the kubelet of every node whose skip file is gone, one at a time, so it is back to upstream behaviour')
    .option('--nodes <names>', 'only these nodes (comma separated)')
    .option('--ready-timeout <seconds>', 'how long each Node has to be Ready again', '180');
  for (const add of [addKubeOptions, addAgentOptions, addStateDir, addOutput, addDryRun]) add(cmd);
  cmd.action((opts: FinalizeFlags) => runAction(ctx, 'finalize', async () => {
    const readyMs = positiveInt('--ready-timeout', opts.readyTimeout) * 1000;
    const requested = opts.nodes?.split(',').map((n) => n.trim()).filter((n) => n !== '');
    if (opts.nodes !== undefined && (requested ?? []).length === 0) throw new InvalidInputError('FINALIZE_NO_NODES', '--nodes names no node', {});
    const cluster = await ctx.ports.cluster(kubeOptions(ctx.io, opts));
    const agents = await connectFleet(ctx, cluster, opts);
    try {
      const candidates: FinalizeCandidate[] = await Promise.all([...agents].map(async ([node, a]) => {
        try {
          const n = await a.getNode();
          return { node, info: { skipFilePresent: n.skipFile?.present ?? true, kubeletActive: n.unit?.activeState === 'active', runRunning: n.lastRunPhase === 'RUN_RUNNING' || n.lastRunPhase === 'RUN_ROLLING_BACK' } };
        } catch (err) {
          return { node, error: err instanceof Error ? err.message : String(err) };
        }
      }));
      const plan = planFinalize(candidates, requested);
      const done: { node: string; result: HealResponse }[] = [];
      const refused: { node: string; why: string }[] = [];
      let failure: string | undefined;
      const stamp = ctx.ports.clock.now();
      for (const node of plan.order) {
        let r: HealResponse;
        try {
          r = await agentFor(agents, node).heal({ mode: 'HEAL_FINALIZE', dryRun: opts.dryRun, healId: `finalize-${node.replace(/[^A-Za-z0-9._-]/g, '-')}-${stamp}` });
        } catch (err) {
          // The agent's own gate refused: nothing changed on that node; the others go on.
          if (err instanceof AgentCallError && err.kind === 'precondition') {
            refused.push({ node, why: `${err.code}: ${err.message}` });
            continue;
          }
          throw err;
        }
        done.push({ node, result: r });
        if (!opts.dryRun) ctx.io.stderr(healLine(node, r));
        if (r.containersRestarted.length > 0) {
          failure = `${node}: ${r.containersRestarted.length} container(s) restarted with the kubelet (${r.containersRestarted.join(', ')}): stopped before the next node`;
          break;
        }
        if (opts.dryRun) continue;
        const deadline = ctx.ports.clock.now() + readyMs;
        let ready = false;
        while (!ready) {
          ready = readyOf((await cluster.nodes()).find((n) => n.metadata?.name === node)) === true;
          if (ready || ctx.ports.clock.now() > deadline) break;
          await ctx.ports.clock.sleep(ctx.ports.pollMs ?? 1_000);
        }
        if (!ready) {
          failure = `${node}: the Node is not Ready within ${readyMs / 1000} s of the kubelet restart: stopped before the next node`;
          break;
        }
      }
      const untouched = plan.order.filter((n) => !done.some((d) => d.node === n) && !refused.some((d) => d.node === n));
      render(ctx.io, opts.output, { dryRun: opts.dryRun, finalized: done, skipped: plan.skipped, refused, untouched, failure: failure ?? '' }, () => [
        ...(opts.dryRun ? done.map((d) => healLine(d.node, d.result)) : done.map((d) => `${d.node}: finalized\n`)),
        ...plan.skipped.map((s) => `${s.node}: skipped: ${s.why}\n`),
        ...refused.map((s) => `${s.node}: refused by the agent: ${s.why}\n`),
        ...(untouched.length > 0 ? [`not finalized: ${untouched.join(', ')}\n`] : []),
        ...(failure ? [`finalize stopped: ${failure}\n`] : []),
      ].join(''));
      return failure ? EXIT_FAILED : EXIT_OK;
    } finally {
      closeFleet(agents);
    }
  }));
}
