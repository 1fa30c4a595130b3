/**
 * `kip upgrade --to VERSION`: one journaled, resumable run (coordinator/rollout): per
 * control-plane step the etcd snapshot, pre hooks, controllers held, kube-apiserver node by node,
 * controllers swapped, the step's kubelets, tolerations where TaintBasedEvictions turns on,
 * controllers released, post hooks and post-checks; holding the cluster's lock. Exit 0 when done,
 * 1 when the run paused (`kip status` says why, `kip resume` continues), 2 on bad input (nothing
 * changed), 3 when another run holds the lock.
 */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { InvalidInputError } from '../../lib/errors.ts';
import { apiserverVersionsForPlan } from '../plan/ha-apiservers.ts';
import { planVersions, type KubeletPlanKind } from '../plan/path.ts';
import { runSteps } from '../plan/run-steps.ts';
import { parseHook } from '../rollout/hooks.ts';
import type { HookSpec, KubeletStepSpec, StepPrediction } from '../rollout/spec.ts';
import type { JsonNode } from '../../lib/knowledge/hash/index.ts';
import { stageComponent } from '../stage/stage.ts';
import type { Component, ReleaseFolder } from '../stage/releases.ts';
import type { AgentPort } from '../fleet/port.ts';
import { discoverControlPlane } from './control-plane-fleet.ts';
import { initialState, validateConfig, zoneOf } from '../rollout/scheduler.ts';
import { sequenceOf, type RunSpec } from '../rollout/spec.ts';
import { controlPlaneActions } from '../rollout/control-plane-plan.ts';
import { describe } from '../rollout/control-plane.ts';
import { readReleases } from '../stage/releases.ts';
import { predictHopRestarts } from '../plan/restarts.ts';
import { EXIT_OK } from '../io.ts';
import { nodeKubelets } from './plan.ts';
import { checkAgentsAnswer, closeFleet, connectFleetEndpoints, type AgentFlags } from './fleet-setup.ts';
import {
  addAgentOptions, addColor, addDryRun, addKubeOptions, addOutput, addStateDir, kubeOptions, positiveInt, render, runAction, stateDirOf, type CommandContext, type OutputFormat,
} from './common.ts';
import { runLoop } from './run-loop.ts';
import { METRICS_LISTEN_HELP, parseMetricsListen, withRunMetrics } from '../metrics/run-metrics.ts';

export const LOCK_TTL_MS = 120_000;
const MAX_VERIFY_TIMEOUT_S = 3_600;

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
  verifyTimeout?: string;
  allowUnpatched: boolean;
  metricsListen?: string;
  allowDroppedFlag: string[];
  hook: string[];
  hookTimeout: string;
  keepServedApi: string[];
  etcdNode?: string;
  watchGates: boolean;
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
    // The agent's own default (verifyTimeoutMs, 120 s) is long for a kubelet that exits at once:
    // the node stays NotReady that long before its agent rolls it back.
    .option('--verify-timeout <s>', 'each new kubelet, kube-proxy or control-plane component must be healthy within this, or its agent rolls it back (default: the agent\'s verifyTimeoutMs)')
    .option('--allow-unpatched', 'accept kubelets without the skip-file patch', false)
    .option('--metrics-listen <addr>', METRICS_LISTEN_HELP)
    .option('--allow-dropped-flag <flag>', 'a removed kubelet flag the agent may drop (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--hook <when=command>', 'pre=CMD or post=CMD: a shell command run before (a failure pauses) or after each control-plane step (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--hook-timeout <s>', 'a hook running longer is killed and counts as failed', '300')
    .option('--keep-served-api <group/version/resource>', 'kube-apiserver --runtime-config entry to keep serving (1.16 and 1.17; repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--etcd-node <name>', 'the agent that takes the etcd snapshot (default: one that lists etcd snapshots, else the first kube-apiserver node)')
    .option('--no-watch-gates', 'gate on the container inventory only, not on the agents\' Watch streams');
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
  // 0 in the run's spec: the agent's default.
  const verifyTimeoutMs = opts.verifyTimeout === undefined ? 0 : positiveInt('--verify-timeout', opts.verifyTimeout) * 1000;
  // The Upgrade request carries it as uint32 milliseconds (agent.proto verify_timeout_ms).
  if (verifyTimeoutMs > MAX_VERIFY_TIMEOUT_S * 1000) throw new InvalidInputError('CLI_BAD_NUMBER', `--verify-timeout must be at most ${MAX_VERIFY_TIMEOUT_S} s, not "${opts.verifyTimeout ?? ''}"`, { option: '--verify-timeout', value: opts.verifyTimeout });
  validateConfig({ maxConcurrency, maxUnavailable, nodeTimeoutMs });
  const hooks: HookSpec[] = opts.hook.map(parseHook);
  const hookTimeoutMs = positiveInt('--hook-timeout', opts.hookTimeout) * 1000;
  const releases = opts.releases ? await readReleases(opts.releases) : [];
  const cluster = await ctx.ports.cluster(kubeOptions(ctx.io, opts));
  const nodes = await cluster.nodes();
  // Every HA instance's own /version: the run is refused (exit 2) when they are more than one minor apart.
  const plan = planVersions({ apiservers: await apiserverVersionsForPlan(cluster), nodes: nodeKubelets(nodes) }, opts.to, releases.map((r) => r.version));
  const zones = new Map(nodes.map((n) => [n.metadata?.name ?? '', zoneOf(n.metadata?.labels)]));
  // The control plane's agents are read (GetNode, read-only) when the plan needs them, dry run included.
  const needsFleet = plan.controlPlanePath.length > 0 || !opts.dryRun;
  const fleet = needsFleet ? await connectFleetEndpoints(ctx, cluster, opts) : undefined;
  try {
    return await upgradeWith(ctx, opts, { releases, cluster, nodes, plan, zones, hooks, hookTimeoutMs, maxConcurrency, maxUnavailable, canaryCount, nodeTimeoutMs, readyTimeoutMs, verifyTimeoutMs, fleet });
  } finally {
    if (fleet) closeFleet(fleet.agents);
  }
}

interface Prepared {
  readonly releases: ReleaseFolder[];
  readonly cluster: Awaited<ReturnType<CommandContext['ports']['cluster']>>;
  readonly nodes: Awaited<ReturnType<Prepared['cluster']['nodes']>>;
  readonly plan: ReturnType<typeof planVersions>;
  readonly zones: Map<string, string>;
  readonly hooks: HookSpec[];
  readonly hookTimeoutMs: number;
  readonly maxConcurrency: number;
  readonly maxUnavailable: number;
  readonly canaryCount: number;
  readonly nodeTimeoutMs: number;
  readonly readyTimeoutMs: number;
  readonly verifyTimeoutMs: number;
  readonly fleet: Awaited<ReturnType<typeof connectFleetEndpoints>> | undefined;
}

async function upgradeWith(ctx: CommandContext, opts: UpgradeFlags, p: Prepared): Promise<number> {
  const { releases, cluster, nodes, plan, zones, hooks, hookTimeoutMs, maxConcurrency, maxUnavailable, canaryCount, nodeTimeoutMs, readyTimeoutMs, verifyTimeoutMs, fleet } = p;
  const cpFleet = fleet ? await discoverControlPlane(fleet.agents, fleet.endpoints, nodes, opts.etcdNode) : undefined;
  const { steps, controlPlane, sequence } = runSteps(plan, opts.plan as KubeletPlanKind, zones, cpFleet);
  const canaryNodes = opts.canaryNodes?.split(',').map((s) => s.trim()).filter(Boolean);
  if (canaryNodes) {
    const unknown = canaryNodes.filter((n) => !zones.has(n));
    if (unknown.length > 0) throw new InvalidInputError('ROLLOUT_UNKNOWN_CANARY', `--canary-nodes: no Node named ${unknown.join(', ')} (nodes: ${[...zones.keys()].sort().join(', ')})`, { unknown });
  }
  // The order each step will take, checked now (a canary not in a step is not its canary).
  const orders = steps.map((s) => initialState(s.nodes, canaryNodes ? { nodes: canaryNodes.filter((n) => s.nodes.some((x) => x.name === n)) } : { count: canaryCount }).order);
  const needRelease = (version: string, component: Component, node: string): void => {
    if (opts.releases && !releases.find((r) => r.version === version)?.components.has(component)) {
      throw new InvalidInputError('RELEASE_COMPONENT_MISSING', `--releases ${opts.releases} has no ${version}/${component} (needed for ${node})`, { version, component });
    }
  };
  for (const s of steps) {
    for (const n of s.nodes) needRelease(s.to, 'kubelet', n.name);
    for (const n of s.kubeProxyNodes ?? []) needRelease(s.to, 'kube-proxy', n);
  }
  for (const c of controlPlane) for (const n of c.nodes) for (const comp of n.components) needRelease(c.to, comp as Component, n.name);
  // What an unpatched kubelet would restart per step, stored with the run for kip report.
  const podTree = await cluster.podTree();
  const predictedRestarts = steps.map((s) => predictStep(podTree, s));
  const spec: RunSpec = {
    target: plan.target, plan: opts.plan as KubeletPlanKind, steps, maxConcurrency, maxUnavailable,
    canary: canaryNodes ? { nodes: canaryNodes } : { count: canaryCount }, nodeTimeoutMs, readyTimeoutMs, verifyTimeoutMs,
    allowUnpatched: opts.allowUnpatched, allowDroppedFlags: opts.allowDroppedFlag, releasesDir: opts.releases,
    ...(controlPlane.length > 0 ? { controlPlane, sequence } : {}), hooks, hookTimeoutMs, keepServedApis: opts.keepServedApi, watchGates: opts.watchGates,
    predictedRestarts,
  };
  if (steps.length === 0 && controlPlane.length === 0) {
    ctx.io.stdout(`nothing to do: every kubelet runs ${plan.target}\n`);
    return EXIT_OK;
  }
  if (opts.dryRun) {
    const value = { dryRun: true, target: plan.target, steps: steps.map((s, i) => ({ to: s.to, order: orders[i] })), controlPlane, spec };
    const kubeletLine = (i: number): string => `kubelets -> ${steps[i]!.to}, in this order: ${orders[i]!.join(', ')}`;
    const lines = sequenceLines(spec, kubeletLine);
    render(ctx.io, opts.output, value, () => `${lines.join('\n')}\n(dry run: nothing changed)\n`);
    return EXIT_OK;
  }
  const agents = fleet!.agents;
  {
    await checkAgentsAnswer(agents, runNodes(spec));
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
      ctx.io.stderr(`run ${runId}: ${controlPlane.length > 0 ? `${controlPlane.length} control-plane step${controlPlane.length > 1 ? 's' : ''} and ` : ''}${steps.length} kubelet step${steps.length === 1 ? '' : 's'} to ${plan.target}\n`);
      return await withRunMetrics(opts.metricsListen, { runId, target: spec.target, logger: ctx.ports.logger, announce: (l) => ctx.io.stderr(`${l}\n`) }, { store, cluster, agents, stateDir: stateDirOf(ctx.io, opts), ...stagerFor(releases, opts.releases) }, (d) => runLoop(ctx, runId, spec, d));
    } finally {
      store.close();
    }
  }
}

/** What an unpatched kubelet would restart in one kubelet step, per node: one hop per version its nodes come from. */
export function predictStep(podTree: JsonNode, step: KubeletStepSpec): StepPrediction {
  const froms = [...new Set(step.nodes.map((n) => n.from))];
  const hops = predictHopRestarts(podTree, froms.map((from) => ({ from, to: step.to, nodes: step.nodes.filter((n) => n.from === from).map((n) => n.name), minors: 1 })));
  return {
    step: step.index,
    containers: hops.reduce((n, h) => n + h.containers, 0),
    wouldRestart: hops.reduce((n, h) => n + h.wouldRestart, 0),
    nodes: Object.fromEntries(hops.flatMap((h) => Object.entries(h.byNode))),
  };
}

/** Stages any component from --releases before it is upgraded (idempotent). */
export function stagerFor(releases: readonly ReleaseFolder[], dir: string | undefined): { stage?: (node: string, agent: AgentPort, version: string, component?: Component) => Promise<void> } {
  if (!dir) return {};
  return { stage: (node, agent, version, component = 'kubelet') => stageComponent(node, agent, releases, dir, version, component).then(() => undefined) };
}

/** Every agent the run needs: the kubelet nodes, the control-plane nodes, the etcd node. */
export function runNodes(spec: RunSpec): string[] {
  return [...new Set([...spec.steps.flatMap((s) => s.nodes.map((n) => n.name)), ...(spec.controlPlane ?? []).flatMap((c) => [...c.nodes.map((n) => n.name), c.etcdNode])])].filter(Boolean);
}

/** What the run does, a line per item (the dry run). */
export function sequenceLines(spec: RunSpec, kubeletLine: (step: number) => string): string[] {
  const out: string[] = [];
  // Numbered by item, not by line: a control-plane item prints one line per action.
  let n = 0;
  for (const item of sequenceOf(spec)) {
    n++;
    if (item.kind === 'kubelets') {
      out.push(`step ${n}: ${kubeletLine(item.step)}`);
      continue;
    }
    const c = spec.controlPlane![item.step]!;
    out.push(`step ${n}: control plane ${c.from} -> ${c.to}:`);
    for (const a of controlPlaneActions(c, spec.hooks ?? [])) out.push(`  ${a.kind === 'kubelets' ? kubeletLine(a.step) : describe(a)}`);
  }
  return out;
}
