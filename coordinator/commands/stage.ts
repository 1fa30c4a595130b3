/**
 * `kip stage --to VERSION --releases DIR`: streams every kubelet binary each node's path needs
 * (every-step plan) to its agent, at most --parallel at once, sha256 checked end to end by the
 * agent; already-staged binaries are skipped, so it is resumable by running it again. A progress
 * line (bytes, nodes done, ETA) only on a terminal.
 */
import type { Command } from 'commander';
import { planVersions } from '../plan/path.ts';
import { readReleases, releaseComponent } from '../stage/releases.ts';
import { stageKubelet, type StageResult } from '../stage/stage.ts';
import { EXIT_FAILED, EXIT_OK } from '../io.ts';
import { addAgentOptions, addDryRun, addKubeOptions, addOutput, addStateDir, formatTable, kubeOptions, positiveInt, render, runAction, type CommandContext, type OutputFormat } from './common.ts';
import { checkAgentsAnswer, closeFleet, connectFleet, type AgentFlags } from './fleet-setup.ts';
import { nodeKubelets } from './plan.ts';

export function registerStage(program: Command, ctx: CommandContext): void {
  const cmd = program.command('stage').description('stream the kubelet binaries each node needs to its agent (sha256 verified, skips what is staged)')
    .requiredOption('--to <version>', 'target version')
    .requiredOption('--releases <dir>', 'one folder per version holding the binaries')
    .option('--parallel <n>', 'agents receiving at once', '4');
  for (const add of [addKubeOptions, addAgentOptions, addStateDir, addOutput, addDryRun]) add(cmd);
  cmd.action((opts: AgentFlags & { to: string; releases: string; parallel: string; output: OutputFormat; dryRun: boolean; kubeconfig?: string; context?: string }) => runAction(ctx, 'stage', async () => {
    const parallel = positiveInt('--parallel', opts.parallel);
    const releases = await readReleases(opts.releases);
    const cluster = await ctx.ports.cluster(kubeOptions(ctx.io, opts));
    const nodes = await cluster.nodes();
    const plan = planVersions({ apiservers: [await cluster.version()], nodes: nodeKubelets(nodes) }, opts.to, releases.map((r) => r.version));
    const work = plan.plans['every-step'].steps.flatMap((s) => s.kubelets.flatMap((h) => h.nodes.map((node) => ({ node, version: h.to }))));
    // Every binary must be there before anything is sent (bad input changes nothing).
    const total = work.reduce((n, w) => n + releaseComponent(releases, w.version, 'kubelet', opts.releases).size, 0);
    if (opts.dryRun) {
      render(ctx.io, opts.output, { dryRun: true, work }, () => `${formatTable(['NODE', 'KUBELET'], work.map((w) => [w.node, w.version]))}(dry run: nothing sent)\n`);
      return EXIT_OK;
    }
    const agents = await connectFleet(ctx, cluster, opts);
    try {
      await checkAgentsAnswer(agents, [...new Set(work.map((w) => w.node))]);
      const started = ctx.ports.clock.now();
      let sent = 0;
      let done = 0;
      const tty = ctx.io.stdoutIsTTY === true;
      const progress = (): void => {
        if (!tty) return;
        const rate = sent / Math.max(1, ctx.ports.clock.now() - started);
        const eta = rate > 0 ? Math.round((total - sent) / rate / 1000) : 0;
        ctx.io.stderr(`\r${(sent / 2 ** 20).toFixed(1)}/${(total / 2 ** 20).toFixed(1)} MiB, ${done}/${work.length} binaries, ETA ${eta} s   `);
      };
      const results: (StageResult | { node: string; version: string; error: string })[] = [];
      const queue = [...work];
      await Promise.all(Array.from({ length: Math.min(parallel, queue.length) }, async () => {
        for (let w = queue.shift(); w; w = queue.shift()) {
          try {
            results.push(await stageKubelet(w.node, agents.get(w.node)!, releases, opts.releases, w.version, (n) => { sent += n; progress(); }));
          } catch (err) {
            results.push({ node: w.node, version: w.version, error: err instanceof Error ? err.message : String(err) });
          }
          done++;
          progress();
        }
      }));
      if (tty) ctx.io.stderr('\n');
      results.sort((a, b) => a.node.localeCompare(b.node) || a.version.localeCompare(b.version));
      const failed = results.filter((r) => 'error' in r);
      render(ctx.io, opts.output, { results }, () => formatTable(['NODE', 'KUBELET', 'RESULT'], results.map((r) => [r.node, r.version, 'error' in r ? `FAILED: ${r.error}` : r.skipped ? 'already staged' : `staged ${(r.bytes / 2 ** 20).toFixed(1)} MiB`])));
      return failed.length === 0 ? EXIT_OK : EXIT_FAILED;
    } finally {
      closeFleet(agents);
    }
  }));
}
