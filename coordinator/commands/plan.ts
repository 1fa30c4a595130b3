/**
 * `kip plan --to VERSION`: reads kube-apiserver's /version, every Node's kubelet and the live pods,
 * and prints the control-plane path, both kubelet plans with the containers an unpatched kubelet
 * would restart per hop, an estimated duration, and the per-step checklist. Changes nothing.
 */
import type { Command } from 'commander';
import type { V1Node } from '@kubernetes/client-node';
import { checklistFor, type ChecklistItem } from '../plan/checklist.ts';
import { apiserverVersionsForPlan } from '../plan/ha-apiservers.ts';
import { planVersions, type KubeletHop, type KubeletPlanKind, type VersionPlan } from '../plan/path.ts';
import { predictHopRestarts, type HopRestarts } from '../plan/restarts.ts';
import { findRemovedApiObjects, removalsOnPath, type RemovedApiObjects } from '../plan/live-objects.ts';
import { readReleases } from '../stage/releases.ts';
import type { ClusterApi } from '../ports.ts';
import { EXIT_OK } from '../io.ts';
import {
  addColor, addKubeOptions, addOutput, formatTable, kubeOptions, paint, positiveInt, render, runAction, useColor, type CommandContext, type OutputFormat,
} from './common.ts';

export interface PlanOutput {
  readonly apiserver: string;
  readonly target: string;
  readonly nodes: readonly { readonly name: string; readonly kubelet: string; readonly kubeProxy: string }[];
  readonly controlPlanePath: readonly string[];
  readonly plans: Readonly<Record<KubeletPlanKind, {
    readonly kubeletRestarts: number;
    readonly estimatedSeconds: number;
    readonly steps: readonly {
      readonly controlPlane: { readonly from: string; readonly to: string } | undefined;
      readonly kubelets: readonly (KubeletHop & { readonly containers: number; readonly wouldRestart: number })[];
      readonly checklist: readonly ChecklistItem[];
    }[];
  }>>;
  /**
   * Objects of every resource the path stops serving, and those last applied through the old
   * version (their manifests must move first). Undefined when the cluster cannot list them.
   */
  readonly removedApiObjects: readonly RemovedApiObjects[] | undefined;
}

export function nodeKubelets(nodes: readonly V1Node[]): { name: string; kubelet: string; kubeProxy: string }[] {
  return nodes
    .map((n) => ({ name: n.metadata?.name ?? '', kubelet: n.status?.nodeInfo?.kubeletVersion ?? '', kubeProxy: n.status?.nodeInfo?.kubeProxyVersion ?? '' }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export async function buildPlan(cluster: ClusterApi, target: string, options: { releases: readonly string[]; concurrency: number; nodeSeconds: number }): Promise<PlanOutput> {
  // Every HA instance's own /version (SKEW_POLICY when they are more than one minor apart).
  const [apiservers, nodes, pods] = await Promise.all([apiserverVersionsForPlan(cluster), cluster.nodes(), cluster.podTree()]);
  const kubelets = nodeKubelets(nodes);
  const plan: VersionPlan = planVersions({ apiservers, nodes: kubelets }, target, options.releases);
  const one = (kind: KubeletPlanKind): PlanOutput['plans'][KubeletPlanKind] => {
    let seconds = 0;
    const steps = plan.plans[kind].steps.map((s) => {
      const predicted: HopRestarts[] = predictHopRestarts(pods, s.kubelets);
      const n = s.kubelets.reduce((sum, h) => sum + h.nodes.length, 0);
      seconds += Math.ceil(n / options.concurrency) * options.nodeSeconds;
      return {
        controlPlane: s.controlPlane,
        kubelets: s.kubelets.map((h, i) => ({ ...h, containers: predicted[i]!.containers, wouldRestart: predicted[i]!.wouldRestart })),
        checklist: checklistFor(s),
      };
    });
    return { kubeletRestarts: plan.plans[kind].kubeletRestarts, estimatedSeconds: seconds, steps };
  };
  const plans = { 'every-step': one('every-step'), 'fewest-restarts': one('fewest-restarts') };
  const removedApiObjects = cluster.listServed ? await findRemovedApiObjects(removalsOnPath(plan), cluster.listServed) : undefined;
  return { apiserver: plan.apiserver, target: plan.target, nodes: kubelets, controlPlanePath: plan.controlPlanePath, plans, removedApiObjects };
}

export function formatPlan(p: PlanOutput, color: boolean): string {
  const out: string[] = [];
  const byVersion = new Map<string, number>();
  for (const n of p.nodes) byVersion.set(n.kubelet, (byVersion.get(n.kubelet) ?? 0) + 1);
  out.push(`kube-apiserver ${p.apiserver} -> ${p.target}; ${p.nodes.length} nodes (kubelets ${[...byVersion].map(([v, c]) => `${v} x${c}`).join(', ') || 'none'})`);
  out.push(p.controlPlanePath.length > 0 ? `control plane, one minor at a time: ${[p.apiserver, ...p.controlPlanePath].join(' -> ')}` : 'control plane: already at the target');
  for (const kind of ['every-step', 'fewest-restarts'] as const) {
    const plan = p.plans[kind];
    out.push('', paint(color, 'bold', `plan ${kind}: ${plan.kubeletRestarts} kubelet restarts, about ${Math.round(plan.estimatedSeconds / 60)} min of kubelet steps (estimate)`));
    const rows = plan.steps.flatMap((s, i) => {
      const cp = s.controlPlane ? `${s.controlPlane.from} -> ${s.controlPlane.to}` : '-';
      if (s.kubelets.length === 0) return [[String(i + 1), cp, '-', '', '']];
      return s.kubelets.map((h) => [String(i + 1), cp, `${h.from} -> ${h.to}${h.minors > 1 ? ` (${h.minors} minors)` : ''}`, String(h.nodes.length), `${h.wouldRestart}/${h.containers}`]);
    });
    out.push(formatTable(['STEP', 'CONTROL PLANE', 'KUBELETS', 'NODES', 'UNPATCHED KUBELET WOULD RESTART'], rows).trimEnd());
  }
  const seen = new Set<string>();
  const items = p.plans['every-step'].steps.flatMap((s) => s.checklist.map((c) => ({ at: s.controlPlane?.to ?? p.apiserver, c })));
  if (items.length > 0) out.push('', paint(color, 'bold', 'checklist (what changes under the user, per step):'));
  for (const { at, c } of items) {
    const key = `${c.kind}:${c.what}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(`  ${at} [${c.kind}] ${c.what}`);
    if (c.action) out.push(`      do: ${c.action}`);
    out.push(`      source: ${c.source}`);
  }
  out.push(...formatRemovedApiObjects(p.removedApiObjects, color));
  return `${out.join('\n')}\n`;
}

function formatRemovedApiObjects(found: PlanOutput['removedApiObjects'], color: boolean): string[] {
  if (found === undefined) return ['', 'objects in API versions the plan stops serving: not checked (the cluster client cannot list them)'];
  if (found.length === 0) return [];
  const out = ['', paint(color, 'bold', 'objects in API versions the plan stops serving:')];
  for (const f of found) {
    const where = f.listedAs ? `listed as ${f.listedAs}` : 'served by neither version';
    out.push(`  ${f.groupVersion} ${f.resource}: ${f.total} stored (${where})${f.appliedWithRemoved.length > 0 ? `; last applied as ${f.groupVersion}: ${f.appliedWithRemoved.join(', ')}` : ''}`);
    if (f.appliedWithRemoved.length > 0) out.push(`      do: move these manifests to the new group/version before the step; their next kubectl apply as ${f.groupVersion} fails once it is no longer served`);
  }
  return out;
}

export function registerPlan(program: Command, ctx: CommandContext): void {
  const cmd = program.command('plan').description('print the upgrade path, both kubelet plans and the per-step checklist; changes nothing')
    .requiredOption('--to <version>', 'target version, e.g. v1.17.17')
    .option('--releases <dir>', 'one folder per version holding the component binaries (patch releases per minor)')
    .option('--max-concurrency <n>', 'kubelets upgraded at once, for the duration estimate', '1')
    .option('--node-seconds <s>', 'seconds per kubelet upgrade, for the duration estimate', '60');
  addKubeOptions(cmd);
  addOutput(cmd);
  addColor(cmd);
  cmd.action((opts: { to: string; releases?: string; maxConcurrency: string; nodeSeconds: string; output: OutputFormat; kubeconfig?: string; context?: string; color?: boolean }) =>
    runAction(ctx, 'plan', async () => {
      const concurrency = positiveInt('--max-concurrency', opts.maxConcurrency);
      const nodeSeconds = positiveInt('--node-seconds', opts.nodeSeconds);
      const releases = opts.releases ? (await readReleases(opts.releases)).map((r) => r.version) : [];
      const cluster = await ctx.ports.cluster(kubeOptions(ctx.io, opts));
      const plan = await buildPlan(cluster, opts.to, { releases, concurrency, nodeSeconds });
      render(ctx.io, opts.output, plan, () => formatPlan(plan, useColor(ctx.io, opts)));
      return EXIT_OK;
    }));
}
