/** `kip status`: the run from the journal: its phase and reason, each node's state and timings, the gate events. Reads only the local store. */
import type { Command } from 'commander';
import { InvalidInputError } from '../../lib/errors.ts';
import { parseSpec } from '../rollout/spec.ts';
import { EXIT_FAILED, EXIT_OK } from '../io.ts';
import { addAgentOptions, addColor, addKubeOptions, addOutput, addStateDir, formatTable, kubeOptions, paint, render, runAction, stateDirOf, useColor, type CommandContext, type OutputFormat } from './common.ts';
import { closeFleet, connectFleet, type AgentFlags } from './fleet-setup.ts';
import { liveNeedsAttention, liveStatus, liveTable } from './status-live.ts';

const secs = (ms: number | null): string => (ms === null ? '-' : `${(ms / 1000).toFixed(1)} s`);

export function registerStatus(program: Command, ctx: CommandContext): void {
  const cmd = program.command('status').description('the run: phase, each node\'s state and timings, gate events; with --live what every agent sees now').option('--run <id>', 'the run (default: the newest)').option('--watch', 'print again every 2 s until the run is no longer running', false)
    .option('--live', 'also ask every agent: kubelet, skip file, apiserver connections (warned when a step multiplied them), broken connections, hash drift, containers with an old hash by owner; exit 1 when something needs the operator', false);
  for (const add of [addStateDir, addOutput, addColor, addKubeOptions, addAgentOptions]) add(cmd);
  cmd.action((opts: { run?: string; stateDir?: string; output: OutputFormat; color?: boolean; watch: boolean; live: boolean; kubeconfig?: string; context?: string } & AgentFlags) => runAction(ctx, 'status', async () => {
    if (opts.live) return live(opts);
    for (;;) {
      const code = once(opts);
      if (!opts.watch || code !== null) return code ?? EXIT_OK;
      await ctx.ports.clock.sleep(2_000);
    }
  }));

  async function live(opts: { run?: string; stateDir?: string; output: OutputFormat; kubeconfig?: string; context?: string } & AgentFlags): Promise<number> {
    const stateDir = stateDirOf(ctx.io, opts);
    const store = ctx.ports.openStore(stateDir);
    let run;
    const stepStartedAt: Record<string, number> = {};
    let recorded: ReturnType<typeof store.connections> = [];
    try {
      run = opts.run ? store.getRun(opts.run) : store.latestRun();
      // Each node's first step of the run: the connections are compared with the look before it.
      for (const r of run ? store.nodes(run.id) : []) {
        if (r.startedAt !== null && (stepStartedAt[r.node] === undefined || r.startedAt < stepStartedAt[r.node]!)) stepStartedAt[r.node] = r.startedAt;
      }
      // The counts the engine recorded right before each node's step: the baseline where present.
      recorded = run ? store.connections(run.id) : [];
    } finally {
      store.close();
    }
    const cluster = await ctx.ports.cluster(kubeOptions(ctx.io, opts));
    const agents = await connectFleet(ctx, cluster, opts);
    try {
      const s = await liveStatus({ agents, nodes: await cluster.nodes(), stateDir, runId: run?.id ?? '', now: ctx.ports.clock.now(), stepStartedAt, recorded });
      render(ctx.io, opts.output, { run: run ? { id: run.id, target: run.target, phase: run.phase, reason: run.reason } : null, ...s }, () => `${run ? `run ${run.id} -> ${run.target}: ${run.phase}${run.reason ? ` (${run.reason})` : ''}\n` : ''}${liveTable(s)}`);
      return liveNeedsAttention(s) ? EXIT_FAILED : EXIT_OK;
    } finally {
      closeFleet(agents);
    }
  }

  /** Prints the run once; null while it is still running. */
  function once(opts: { run?: string; stateDir?: string; output: OutputFormat; color?: boolean }): number | null {
    const store = ctx.ports.openStore(stateDirOf(ctx.io, opts));
    try {
      const run = opts.run ? store.getRun(opts.run) : store.latestRun();
      if (!run) throw new InvalidInputError('RUN_NOT_FOUND', `no run${opts.run ? ` ${opts.run}` : ''} in ${stateDirOf(ctx.io, opts)}`);
      const spec = parseSpec(run.spec);
      const records = store.nodes(run.id);
      const nodes = spec.steps.flatMap((s) => s.nodes.map((n) => {
        const r = records.find((x) => x.step === s.index && x.node === n.name);
        return { step: s.index + 1, node: n.name, from: n.from, to: s.to, phase: r?.phase ?? 'pending', attempt: r?.attempt ?? 0, agentRunId: r?.agentRunId ?? '', startedAt: r?.startedAt ?? null, durationMs: r?.startedAt && r.finishedAt ? r.finishedAt - r.startedAt : null, kubeletDowntimeMs: r?.downtimeMs ?? null, error: r?.error ?? '' };
      }));
      const events = store.events(run.id);
      const value = { run: { id: run.id, cluster: run.cluster, target: run.target, phase: run.phase, reason: run.reason, createdAt: run.createdAt, updatedAt: run.updatedAt }, nodes, events };
      const color = useColor(ctx.io, opts);
      render(ctx.io, opts.output, value, () => {
        const phase = paint(color, run.phase === 'succeeded' ? 'green' : run.phase === 'paused' ? 'yellow' : 'bold', run.phase);
        const lines = [`run ${run.id} -> ${run.target}: ${phase}${run.reason ? ` (${run.reason})` : ''}`];
        lines.push(formatTable(['STEP', 'NODE', 'KUBELET', 'STATE', 'ATTEMPT', 'DURATION', 'KUBELET DOWN', 'ERROR'],
          nodes.map((n) => [String(n.step), n.node, `${n.from} -> ${n.to}`, n.phase, String(n.attempt), secs(n.durationMs), secs(n.kubeletDowntimeMs), n.error])).trimEnd());
        const shown = new Set(['gate', 'paused', 'node-failed', 'control-plane', 'etcd-snapshot', 'tolerations', 'watch-expired', 'rolled-back']);
        const gates = events.filter((e) => shown.has(e.kind));
        if (gates.length > 0) lines.push('events:', ...gates.map((e) => `  ${new Date(e.at).toISOString()} ${e.kind}${e.node ? ` ${e.node}` : ''}: ${e.message}`));
        return `${lines.join('\n')}\n`;
      });
      return run.phase === 'running' ? null : run.phase === 'succeeded' ? EXIT_OK : EXIT_FAILED;
    } finally {
      store.close();
    }
  }
}
