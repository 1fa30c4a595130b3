/**
 * `kip upgrade --to VERSION`: one journaled, resumable run over the kubelets (coordinator/rollout),
 * holding the cluster's lock. Exit 0 when every kubelet runs the target, 1 when the run paused
 * (`kip status` says why, `kip resume` continues), 2 on bad input (nothing changed), 3 when another
 * run holds the lock.
 */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { InvalidInputError } from '../../lib/errors.ts';
import { planVersions, type KubeletPlanKind } from '../plan/path.ts';
import { kubeletSteps } from '../plan/kubelet-steps.ts';
import { initialState, validateConfig, zoneOf } from '../rollout/scheduler.ts';
import type { RunSpec } from '../rollout/spec.ts';
import { readReleases } from '../stage/releases.ts';
import { stageKubelet } from '../stage/stage.ts';
import { EXIT_OK } from '../io.ts';
import { nodeKubelets } from './plan.ts';
import { checkAgentsAnswer, closeFleet, connectFleet, type AgentFlags } from './fleet-setup.ts';
import {
  addAgentOptions, addColor, addDryRun, addKubeOptions, addOutput, addStateDir, kubeOptions, positiveInt, render, runAction, stateDirOf, type CommandContext, type OutputFormat,
} from './common.ts';
import { runLoop } from './run-loop.ts';
import { METRICS_LISTEN_HELP, parseMetricsListen, withRunMetrics } from '../metrics/run-metrics.ts';

export const LOCK_TTL_MS = 120_000;

interface UpgradeFlags extends AgentFlags {
  to: string;
  plan: string;
  maxConcurrency: string;
  maxUnavailable: string;
  canary: string;
  canaryNodes?: string;
  releases?: string;
  nodeTimeout: string;
  readyTimeout: string;
  allowUnpatched: boolean;
  metricsListen?: string;
  allowDroppedFlag: string[];
  dryRun: boolean;
  output: OutputFormat;
  kubeconfig?: string;
  context?: string;
}

export function registerUpgrade(program: Command, ctx: CommandContext): void {
  const cmd = program.command('upgrade').description('upgrade the kubelets to VERSION: canaries first, a sliding window, journaled and resumable')
    .requiredOption('--to <version>', 'target version, e.g. v1.17.17')
    .option('--plan <kind>', 'every-step or fewest-restarts', 'every-step')
    .option('--max-concurrency <n>', 'nodes upgraded at once', '1')
    .option('--max-unavailable <n>', 'NotReady nodes allowed at once (in flight included)', '1')
    .option('--canary <n>', 'the first N nodes of each step go alone, first', '1')
    .option('--canary-nodes <names>', 'these nodes (comma-separated) are the canaries instead')
    .option('--releases <dir>', 'stage each kubelet from here before its node (one folder per version)')
    .option('--node-timeout <s>', 'a node not done within this pauses the run', '900')
    .option('--ready-timeout <s>', 'after the agent: the Node Ready with the new kubelet within this', '300')
    .option('--allow-unpatched', 'accept kubelets without the skip-file patch', false)
    .option('--metrics-listen <addr>', METRICS_LISTEN_HELP)
    .option('--allow-dropped-flag <flag>', 'a removed kubelet flag the agent may drop (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[]);
  for (const add of [addKubeOptions, addAgentOptions, addStateDir, addOutput, addColor, addDryRun]) add(cmd);
  cmd.action((opts: UpgradeFlags) => runAction(ctx, 'upgrade', () => upgrade(ctx, opts)));
}

async function upgrade(ctx: CommandContext, opts: UpgradeFlags): Promise<number> {
  if (opts.plan !== 'every-step' && opts.plan !== 'fewest-restarts') throw new InvalidInputError('CLI_USAGE', `--plan must be every-step or fewest-restarts, not "${opts.plan}"`);
  if (opts.metricsListen !== undefined) parseMetricsListen(opts.metricsListen);
  const maxConcurrency = positiveInt('--max-concurrency', opts.maxConcurrency);
  const maxUnavailable = positiveInt('--max-unavailable', opts.maxUnavailable);
  const canaryCount = positiveInt('--canary', opts.canary, 0);
  const nodeTimeoutMs = positiveInt('--node-timeout', opts.nodeTimeout) * 1000;
  const readyTimeoutMs = positiveInt('--ready-timeout', opts.readyTimeout) * 1000;
  validateConfig({ maxConcurrency, maxUnavailable, nodeTimeoutMs });
  const releases = opts.releases ? await readReleases(opts.releases) : [];
  const cluster = await ctx.ports.cluster(kubeOptions(ctx.io, opts));
  const nodes = await cluster.nodes();
  const plan = planVersions({ apiservers: [await cluster.version()], nodes: nodeKubelets(nodes) }, opts.to, releases.map((r) => r.version));
  const zones = new Map(nodes.map((n) => [n.metadata?.name ?? '', zoneOf(n.metadata?.labels)]));
  const steps = kubeletSteps(plan, opts.plan as KubeletPlanKind, zones);
  const canaryNodes = opts.canaryNodes?.split(',').map((s) => s.trim()).filter(Boolean);
  if (canaryNodes) {
    const unknown = canaryNodes.filter((n) => !zones.has(n));
    if (unknown.length > 0) throw new InvalidInputError('ROLLOUT_UNKNOWN_CANARY', `--canary-nodes: no Node named ${unknown.join(', ')} (nodes: ${[...zones.keys()].sort().join(', ')})`, { unknown });
  }
  // The order each step will take, checked now (a canary not in a step is not its canary).
  const orders = steps.map((s) => initialState(s.nodes, canaryNodes ? { nodes: canaryNodes.filter((n) => s.nodes.some((x) => x.name === n)) } : { count: canaryCount }).order);
  for (const s of steps) {
    for (const n of s.nodes) if (opts.releases && !releases.find((r) => r.version === s.to)?.components.has('kubelet')) {
      throw new InvalidInputError('RELEASE_COMPONENT_MISSING', `--releases ${opts.releases} has no ${s.to}/kubelet (needed for ${n.name})`, { version: s.to });
    }
  }
  const spec: RunSpec = {
    target: plan.target, plan: opts.plan as KubeletPlanKind, steps, maxConcurrency, maxUnavailable,
    canary: canaryNodes ? { nodes: canaryNodes } : { count: canaryCount }, nodeTimeoutMs, readyTimeoutMs, verifyTimeoutMs: 0,
    allowUnpatched: opts.allowUnpatched, allowDroppedFlags: opts.allowDroppedFlag, releasesDir: opts.releases,
  };
  if (steps.length === 0) {
    ctx.io.stdout(`nothing to do: every kubelet runs ${plan.target}\n`);
    return EXIT_OK;
  }
  if (opts.dryRun) {
    const value = { dryRun: true, target: plan.target, steps: steps.map((s, i) => ({ to: s.to, order: orders[i] })), spec };
    render(ctx.io, opts.output, value, () => `${steps.map((s, i) => `step ${i + 1}: kubelets -> ${s.to}, in this order: ${orders[i]!.join(', ')}`).join('\n')}\n(dry run: nothing changed)\n`);
    return EXIT_OK;
  }
  const agents = await connectFleet(ctx, cluster, opts);
  try {
    await checkAgentsAnswer(agents, [...new Set(steps.flatMap((s) => s.nodes.map((n) => n.name)))]);
    const store = ctx.ports.openStore(stateDirOf(ctx.io, opts));
    try {
      const runId = `kip-${new Date(ctx.ports.clock.now()).toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}-${randomBytes(3).toString('hex')}`.toLowerCase();
      const previous = store.latestRun(cluster.server);
      if (previous && (previous.phase === 'paused' || previous.phase === 'running')) {
        const held = await cluster.lock.read();
        if (!held || held.runId === previous.id) {
          throw new InvalidInputError('RUN_UNFINISHED', `run ${previous.id} on this cluster is ${previous.phase}${previous.reason ? ` (${previous.reason})` : ''}: continue it with kip resume`, { runId: previous.id });
        }
      }
      await cluster.lock.acquire(ctx.ports.identity, runId, LOCK_TTL_MS, ctx.ports.clock.now());
      store.createRun({ id: runId, cluster: cluster.server, target: plan.target, phase: 'running', reason: '', spec: JSON.stringify(spec), createdAt: ctx.ports.clock.now() });
      ctx.io.stderr(`run ${runId}: ${steps.length} kubelet step${steps.length > 1 ? 's' : ''} to ${plan.target}\n`);
      const stage = opts.releases ? (node: string, agent: Parameters<typeof stageKubelet>[1], version: string) => stageKubelet(node, agent, releases, opts.releases!, version).then(() => undefined) : undefined;
      return await withRunMetrics(opts.metricsListen, { runId: runId, target: spec.target, logger: ctx.ports.logger, announce: (l) => ctx.io.stderr(`${l}\n`) }, { store, cluster, agents, ...(stage ? { stage } : {}) }, (d) => runLoop(ctx, runId, spec, d));
    } finally {
      store.close();
    }
  } finally {
    closeFleet(agents);
  }
}
