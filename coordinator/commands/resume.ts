/** `kip resume`: continues the paused or interrupted run of this cluster (or --run ID) from its journal; flags are the run's own. */
import type { Command } from 'commander';
import { InvalidInputError } from '../../lib/errors.ts';
import { parseSpec } from '../rollout/spec.ts';
import { readReleases } from '../stage/releases.ts';
import { EXIT_OK } from '../io.ts';
import { addAgentOptions, addKubeOptions, addStateDir, addDryRun, kubeOptions, runAction, stateDirOf, type CommandContext } from './common.ts';
import { checkAgentsAnswer, closeFleet, connectFleet, type AgentFlags } from './fleet-setup.ts';
import { runLoop } from './run-loop.ts';
import { METRICS_LISTEN_HELP, parseMetricsListen, withRunMetrics } from '../metrics/run-metrics.ts';
import { LOCK_TTL_MS, runNodes, stagerFor } from './upgrade.ts';

export function registerResume(program: Command, ctx: CommandContext): void {
  const cmd = program.command('resume').description('continue the paused or interrupted run (finished nodes are not redone)').option('--run <id>', 'the run (default: the newest of this cluster)').option('--metrics-listen <addr>', METRICS_LISTEN_HELP);
  for (const add of [addKubeOptions, addAgentOptions, addStateDir, addDryRun]) add(cmd);
  cmd.action((opts: AgentFlags & { run?: string; metricsListen?: string; dryRun: boolean; kubeconfig?: string; context?: string }) => runAction(ctx, 'resume', async () => {
    if (opts.metricsListen !== undefined) parseMetricsListen(opts.metricsListen);
    const cluster = await ctx.ports.cluster(kubeOptions(ctx.io, opts));
    const store = ctx.ports.openStore(stateDirOf(ctx.io, opts));
    try {
      const run = opts.run ? store.getRun(opts.run) : store.latestRun(cluster.server);
      if (!run) throw new InvalidInputError('RUN_NOT_FOUND', opts.run ? `no run ${opts.run} in ${stateDirOf(ctx.io, opts)}` : `no run of ${cluster.server} in ${stateDirOf(ctx.io, opts)}: start one with kip upgrade`, {});
      if (run.phase === 'succeeded') {
        ctx.io.stdout(`run ${run.id} already succeeded\n`);
        return EXIT_OK;
      }
      const spec = parseSpec(run.spec);
      const done = store.nodes(run.id).filter((n) => n.phase === 'succeeded').length;
      const total = spec.steps.reduce((n, s) => n + s.nodes.length, 0);
      if (opts.dryRun) {
        ctx.io.stdout(`would resume run ${run.id} (${run.phase}${run.reason ? `: ${run.reason}` : ''}): ${done} of ${total} node steps done\n(dry run: nothing changed)\n`);
        return EXIT_OK;
      }
      const agents = await connectFleet(ctx, cluster, opts);
      try {
        await checkAgentsAnswer(agents, runNodes(spec));
        await cluster.lock.acquire(ctx.ports.identity, run.id, LOCK_TTL_MS, ctx.ports.clock.now());
        ctx.io.stderr(`resuming run ${run.id}: ${done} of ${total} node steps done\n`);
        const releases = spec.releasesDir ? await readReleases(spec.releasesDir) : [];
        return await withRunMetrics(opts.metricsListen, { runId: run.id, target: spec.target, logger: ctx.ports.logger, announce: (l) => ctx.io.stderr(`${l}\n`) }, { store, cluster, agents, stateDir: stateDirOf(ctx.io, opts), ...stagerFor(releases, spec.releasesDir) }, (d) => runLoop(ctx, run.id, spec, d));
      } finally {
        closeFleet(agents);
      }
    } finally {
      store.close();
    }
  }));
}
