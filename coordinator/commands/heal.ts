/**
 * `kip heal --node N [--dry-run]`: restarts the kubelet of a node stuck on broken apiserver
 * connections ("use of closed network connection", golang/go#34978, kubernetes#87615, fixed by
 * kubernetes PR #100376; kip status --live reports such nodes) through its agent's Heal RPC. The
 * agent refuses unless the skip file protects the containers or none carries an old hash; it
 * journals the restart and answers once the kubelet is healthy again.
 */
import type { Command } from 'commander';
import { InvalidInputError } from '../../lib/errors.ts';
import { EXIT_FAILED, EXIT_OK } from '../io.ts';
import type { AgentPort, HealResponse } from '../fleet/port.ts';
import { addAgentOptions, addDryRun, addKubeOptions, addOutput, addStateDir, kubeOptions, render, runAction, type CommandContext, type OutputFormat } from './common.ts';
import { closeFleet, connectFleet, type AgentFlags } from './fleet-setup.ts';

export function healLine(node: string, r: HealResponse): string {
  if (r.dryRun) return `${node}: would restart the kubelet (pid ${r.oldMainPid}): ${r.gate}\n`;
  const restarted = r.containersRestarted.length > 0 ? `; ${r.containersRestarted.length} container(s) restarted: ${r.containersRestarted.join(', ')}` : `; ${r.containersBefore} container(s), none restarted`;
  return `${node}: kubelet restarted, pid ${r.oldMainPid} -> ${r.newMainPid}, down ${(Number(r.downtimeMs) / 1000).toFixed(1)} s (${r.gate})${restarted}\n`;
}

export function agentFor(agents: ReadonlyMap<string, AgentPort>, node: string): AgentPort & Required<Pick<AgentPort, 'heal'>> {
  const a = agents.get(node);
  if (!a) throw new InvalidInputError('AGENT_UNKNOWN', `no agent known for ${node}: the Node has no InternalIP, or add it to --inventory`, { node });
  if (!a.heal) throw new InvalidInputError('AGENT_NO_HEAL', `the agent client for ${node} cannot heal`, { node });
  return a as AgentPort & Required<Pick<AgentPort, 'heal'>>;
}

export function registerHeal(program: Command, ctx: CommandContext): void {
  const cmd = program.command('heal').description('restart a node\'s kubelet stuck on broken apiserver connections, through its agent (containers keep running)')
    .requiredOption('--node <name>', 'the node whose kubelet to restart')
    .option('--timeout <seconds>', 'how long the kubelet has to answer healthy again (default: the agent\'s)');
  for (const add of [addKubeOptions, addAgentOptions, addStateDir, addOutput, addDryRun]) add(cmd);
  cmd.action((opts: { node: string; timeout?: string; dryRun: boolean; output: OutputFormat; kubeconfig?: string; context?: string } & AgentFlags) => runAction(ctx, 'heal', async () => {
    const timeoutMs = opts.timeout === undefined ? 0 : Number(opts.timeout) * 1000;
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) throw new InvalidInputError('CLI_BAD_NUMBER', `--timeout must be a number of seconds, not "${opts.timeout}"`, { option: '--timeout' });
    const cluster = await ctx.ports.cluster(kubeOptions(ctx.io, opts));
    const agents = await connectFleet(ctx, cluster, opts);
    try {
      const r = await agentFor(agents, opts.node).heal({ mode: 'HEAL_RESTART', dryRun: opts.dryRun, healId: `heal-${opts.node.replace(/[^A-Za-z0-9._-]/g, '-')}-${ctx.ports.clock.now()}`, timeoutMs });
      render(ctx.io, opts.output, { node: opts.node, ...r }, () => healLine(opts.node, r));
      return r.containersRestarted.length > 0 ? EXIT_FAILED : EXIT_OK;
    } finally {
      closeFleet(agents);
    }
  }));
}
