/**
 * kip's main job on the lab: the in-place upgrade of every node, one minor at a time, following
 * the seed's procedure per step (controllers stopped, apiserver, kubelets node by node through
 * kip-agent, pods labelled so DefaultTolerationSeconds adds tolerations before the first
 * controller-manager with taint-based evictions, controllers started), measuring containers
 * restarted per step against the hash engine's prediction, kubelet downtime and duration.
 *
 * It drives the agents directly (coordinator/fleet + coordinator/rollout), the control plane
 * included: every control-plane step goes through the control-plane node's kip-agent, as on a
 * real cluster (Hold controller-manager and scheduler, a verified etcd snapshot, StageBinary +
 * Upgrade of kube-apiserver, the held controllers swapped while held, Release after the kubelets).
 */
import { createHash } from 'node:crypto';
import type { V1Pod } from '@kubernetes/client-node';
import type { Logger } from '../../lib/logger.ts';
import type { Clock } from '../../lib/clock.ts';
import { KipError } from '../../lib/errors.ts';
import type { Exec } from '../../lib/exec.ts';
import type { KubeClient } from '../../lib/kube/index.ts';
import type { KubeRest } from '../../lib/kube/raw.ts';
import { clusterPreflight } from '../../coordinator/preflight/cluster.ts';
import { nodeBatches, versionPath, type VersionStep } from '../../coordinator/rollout/plan.ts';
import { upgradeNode, type NodeUpgradeResult } from '../../coordinator/rollout/node-upgrade.ts';
import type { StepEvent, UpgradeRequest } from '../../coordinator/rollout/types.ts';
import { checkConsistency } from '../../agent/watch/consistency.ts';
import type { ContainerInfo } from '../../agent/runtime/types.ts';
import { defaultFeatureGates } from '../lab/controller-manager/features.ts';
import { LAB_KUBELET_VERSIONS, launcherScript } from '../lab/kubelet/launcher.ts';
import { SKIP_FILE } from '../lab/node-config.ts';
import { labRuntime, type LabState } from '../lab/lab.ts';
import type { SyncReport } from '../lab/kubelet/kubelet.ts';
import { restartedBetween, settled, snapshotOf } from './snapshot.ts';

export interface DemoAgent {
  stageBinary(meta: { version: string; sha256: string; size: number }, data: Buffer): Promise<unknown>;
  upgradeFollow(req: UpgradeRequest): AsyncIterable<StepEvent>;
  getNode(): Promise<{ kubeletVersion: string }>;
}

/** The control-plane node's kip-agent (coordinator/fleet's AgentConnection). */
export interface DemoControlPlane {
  hold(component: string): Promise<{ phase: string; changed: boolean }>;
  release(component: string): Promise<{ started: boolean }>;
  etcdSnapshot(): Promise<{ id: string; revision: number; totalKeys: number; sizeBytes: number; sha256: string }>;
  stageBinary(meta: { version: string; sha256: string; size: number; component: string }, data: Buffer): Promise<unknown>;
  upgradeFollow(req: UpgradeRequest): AsyncIterable<StepEvent>;
  getNode(): Promise<{ components: readonly { name: string; version: string; held: boolean }[] }>;
}

/** The controllers the procedure stops for the whole step (seed step 4), in the order they are held. */
const HELD = ['kube-controller-manager', 'kube-scheduler'] as const;

export interface DemoDeps {
  readonly state: LabState;
  readonly kube: KubeClient;
  readonly rest: KubeRest;
  readonly agents: ReadonlyMap<string, DemoAgent>;
  /** Each worker's runtime, to predict restarts from the containers' real hash labels. */
  readonly runtimes: ReadonlyMap<string, { listContainers(): Promise<ContainerInfo[]> }>;
  readonly controlPlane: DemoControlPlane;
  /** A component "binary" of a version, from the lab's releases folder (what a user downloads). */
  readonly releaseBinary: (component: string, version: string) => Promise<Buffer>;
  readonly exec: Exec;
  readonly logger: Logger;
  readonly out: (line: string) => void;
  readonly clock: Clock;
  /** A worker's lab kubelet sync report (its /lab/syncs), undefined while it does not answer. */
  readonly kubeletSyncs: (node: string) => Promise<SyncReport | undefined>;
}

export interface DemoOptions {
  readonly target: string;
  readonly patched: boolean;
  /** Restore nodeSelector labels the preflight finds missing (the seed's advice), instead of stopping. */
  readonly fixSelectors: boolean;
}

export interface StepReport {
  readonly from: string;
  readonly to: string;
  readonly containers: number;
  readonly restarted: readonly string[];
  /** Containers whose hash label differs from the target's hash: what an unpatched kubelet restarts. */
  readonly predicted: number;
  readonly nodes: readonly Pick<NodeUpgradeResult, 'node' | 'outcome' | 'kubeletDowntimeMs' | 'errorCode' | 'message'>[];
  /** The control-plane node's runs through its agent: the etcd snapshot, then each component swap (downtime: stop -> healthy, the agent's figure). */
  readonly controlPlane: {
    readonly snapshot: { readonly id: string; readonly revision: number; readonly totalKeys: number; readonly sizeBytes: number };
    readonly components: readonly { readonly component: string; readonly outcome: NodeUpgradeResult['outcome']; readonly downtimeMs?: number; readonly durationMs: number }[];
  };
  readonly durationMs: number;
}

export interface DemoReport {
  readonly target: string;
  readonly patched: boolean;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly containers: number;
  readonly steps: readonly StepReport[];
  readonly restartedTotal: number;
  readonly predictedTotal: number;
  readonly preflight: { readonly selectorFixes: readonly string[]; readonly labelledForTolerations: number };
  readonly outcome: 'completed' | 'stopped';
  readonly stoppedBecause?: string;
}

export class DemoError extends KipError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('DEMO_FAILED', message, details);
  }
}

const minorOf = (v: string): number => Number(/^v?1\.(\d+)/.exec(v)?.[1] ?? NaN);
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/**
 * Waits until every live pod runs with all its containers reported, and the same answer comes
 * twice a kubelet sync apart (so a recreation in flight is not mistaken for the end state).
 */
export async function waitSettled(
  listPods: () => Promise<readonly V1Pod[]>,
  clock: Clock,
  timeoutMs: number,
): Promise<V1Pod[]> {
  const deadline = clock.now() + timeoutMs;
  let previous = '';
  for (;;) {
    const pods = (await listPods()).filter((p) => p.status?.phase !== 'Failed' && p.status?.phase !== 'Succeeded');
    const key = JSON.stringify([...snapshotOf(pods).containers]);
    if (settled(pods) && key === previous) return pods;
    previous = key;
    if (clock.now() > deadline) throw new DemoError(`pods did not settle within ${seconds(timeoutMs)}`);
    await clock.sleep(1_500);
  }
}

const settledPods = (deps: DemoDeps, timeoutMs: number): Promise<V1Pod[]> => waitSettled(async () => (await deps.kube.listPods()).items, deps.clock, timeoutMs);

/**
 * Waits until the kubelet of each node runs `version` and has completed a sync of every pod
 * bound to it: only then has it done whatever it would do to the containers it found (a restart
 * counted after that is real, and "nothing restarted" is not a guess after a sleep).
 */
export async function waitFirstSync(
  nodes: readonly string[],
  version: string,
  syncs: DemoDeps['kubeletSyncs'],
  clock: Clock,
  timeoutMs: number,
): Promise<Map<string, SyncReport>> {
  const deadline = clock.now() + timeoutMs;
  const out = new Map<string, SyncReport>();
  for (;;) {
    for (const node of nodes) {
      if (out.has(node)) continue;
      const r = await syncs(node).catch(() => undefined);
      if (r && r.version === version && r.completedSyncs >= 1) out.set(node, r);
    }
    if (out.size === nodes.length) return out;
    if (clock.now() > deadline) throw new DemoError(`the kubelets of ${nodes.filter((n) => !out.has(n)).join(', ')} did not complete a sync as ${version} within ${seconds(timeoutMs)}`);
    await clock.sleep(250);
  }
}

async function predictRestarts(deps: DemoDeps, target: string): Promise<number> {
  let n = 0;
  for (const [node, runtime] of deps.runtimes) {
    const list = (await deps.rest.get(`/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${node}`)}`)).node;
    n += checkConsistency(list, await runtime.listContainers(), target).stale.length;
  }
  return n;
}

async function labelPodsForTolerations(deps: DemoDeps, pods: readonly string[]): Promise<void> {
  const stamp = String(Math.floor(deps.clock.now() / 1000));
  for (const key of pods) {
    const [ns, name] = key.split('/') as [string, string];
    await deps.kube.patchPodLabels(ns, name, { 'kip.io/tolerations-refreshed': stamp });
  }
}

export async function runDemo(options: DemoOptions, deps: DemoDeps): Promise<DemoReport> {
  const started = deps.clock.now();
  const { out } = deps;
  const workers = [...deps.agents.keys()].sort();
  const first = deps.agents.get(workers[0]!);
  if (!first) throw new DemoError('the lab has no worker with an agent');
  const current = (await first.getNode()).kubeletVersion;
  const steps = versionPath(current, options.target, LAB_KUBELET_VERSIONS.filter((v) => minorOf(v) > minorOf(current)));
  let pods = await settledPods(deps, 60_000);
  const total = snapshotOf(pods).containers.size;
  out(`kip demo: in-place upgrade ${current} -> ${options.target}, ${options.patched ? 'patched kubelets (skip file)' : 'UNPATCHED kubelets'}, ${workers.length} workers, ${pods.length} pods, ${total} containers`);

  // Preflight (seed: check nodeSelector labels before upgrading; tolerations before taint-based evictions)
  const nodes = await deps.kube.listNodes();
  const pre = clusterPreflight(nodes, pods);
  const selectorFixes: string[] = [];
  for (const p of pre.selectorProblems) {
    const what = p.missing.map((m) => `${m.key}=${m.want}`).join(',');
    if (!options.fixSelectors) throw new DemoError(`preflight: pod ${p.pod} selects ${what}, which node ${p.node} lacks: a restarting kubelet would kill it (MatchNodeSelector)`);
    out(`preflight: pod ${p.pod} selects ${what}, which node ${p.node} lacks; a restarting kubelet would kill it (MatchNodeSelector): restoring the label`);
    await deps.kube.patchNode(p.node, { metadata: { labels: Object.fromEntries(p.missing.map((m) => [m.key, m.want])) } }, 'merge');
    selectorFixes.push(`${p.node}:${what}`);
  }
  if (pre.withoutEvictionTolerations.length > 0) {
    out(`preflight: ${pre.withoutEvictionTolerations.length} pods have no not-ready/unreachable tolerationSeconds; they are labelled (so DefaultTolerationSeconds adds them) before the first controller-manager with taint-based evictions`);
  }
  let labelled = 0;
  const reports: StepReport[] = [];
  let stoppedBecause: string | undefined;

  for (const step of steps) {
    const t0 = deps.clock.now();
    out(`step ${step.from} -> ${step.to}`);
    const before = snapshotOf(pods);
    const predicted = await predictRestarts(deps, step.to);
    const cp = await upgradeControlPlane(deps, step);
    out(`  control plane through its agent: ${HELD.join(', ')} held; etcd snapshot ${cp.snapshot.id} (revision ${cp.snapshot.revision}, ${cp.snapshot.totalKeys} keys, verified); ${cp.components.map((c) => `${c.component} ${c.outcome}${c.downtimeMs !== undefined ? ` (down ${seconds(c.downtimeMs)})` : ''}`).join(', ')} (${seconds(deps.clock.now() - t0)})`);
    const cpFailed = cp.components.find((c) => c.outcome !== 'succeeded');
    const nodeResults = cpFailed ? [] : await upgradeWorkers(deps, options, step, workers);
    const failed = cpFailed ? { node: `control-plane/${cpFailed.component}`, outcome: cpFailed.outcome, errorCode: cp.failure?.errorCode ?? '', message: cp.failure?.message ?? '' } : nodeResults.find((r) => r.outcome !== 'succeeded');
    if (!failed && defaultFeatureGates(minorOf(step.to)).TaintBasedEvictions) {
      const current = clusterPreflight(await deps.kube.listNodes(), (await deps.kube.listPods()).items).withoutEvictionTolerations;
      if (current.length > 0) {
        await labelPodsForTolerations(deps, current);
        labelled += current.length;
        const still = clusterPreflight(await deps.kube.listNodes(), (await deps.kube.listPods()).items).withoutEvictionTolerations;
        if (still.length > 0) {
          throw new DemoError(`labelling did not give ${still.length} pods not-ready/unreachable tolerations (is DefaultTolerationSeconds enabled on the apiserver?): ${still.slice(0, 5).join(', ')}`);
        }
        out(`  labelled ${current.length} pods: DefaultTolerationSeconds gave them not-ready/unreachable tolerationSeconds 300 before controller-manager ${step.to} (taint-based evictions)`);
      }
    }
    // Seed step 8: the controllers run again, at the new version (Release starts each and checks its health).
    for (const c of [...HELD].reverse()) await deps.controlPlane.release(c);
    const upgraded = nodeResults.filter((r) => r.outcome === 'succeeded').map((r) => r.node);
    await waitFirstSync(upgraded, step.to, deps.kubeletSyncs, deps.clock, 90_000);
    pods = await settledPods(deps, 90_000);
    const { restarted, gone } = restartedBetween(before, snapshotOf(pods));
    const report: StepReport = {
      from: step.from, to: step.to, containers: before.containers.size, restarted: [...restarted, ...gone], predicted,
      nodes: nodeResults.map(({ node, outcome, kubeletDowntimeMs, errorCode, message }) => ({ node, outcome, kubeletDowntimeMs, errorCode, message })),
      controlPlane: { snapshot: cp.snapshot, components: cp.components },
      durationMs: deps.clock.now() - t0,
    };
    reports.push(report);
    out(`  controllers started at ${step.to}; restarted ${report.restarted.length} of ${report.containers} containers (${predicted} carry a hash ${step.to} computes differently${options.patched ? ', kept by the skip file' : ''}) in ${seconds(report.durationMs)}`);
    for (const r of report.restarted.slice(0, 8)) out(`    restarted: ${r}`);
    if (report.restarted.length > 8) out(`    ... and ${report.restarted.length - 8} more`);
    if (failed) {
      stoppedBecause = `${failed.node}: ${failed.outcome} (${failed.errorCode}: ${failed.message})`;
      out(`  stopping: ${stoppedBecause}`);
      break;
    }
  }
  const restartedTotal = new Set(reports.flatMap((r) => r.restarted)).size;
  return {
    target: options.target,
    patched: options.patched,
    startedAt: new Date(started).toISOString(),
    durationMs: deps.clock.now() - started,
    containers: total,
    steps: reports,
    restartedTotal,
    predictedTotal: reports.reduce((n, r) => n + r.predicted, 0),
    preflight: { selectorFixes, labelledForTolerations: labelled },
    outcome: stoppedBecause ? 'stopped' : 'completed',
    ...(stoppedBecause ? { stoppedBecause } : {}),
  };
}

async function waitForApiserver(deps: DemoDeps, version: string): Promise<void> {
  const deadline = deps.clock.now() + 60_000;
  for (;;) {
    try {
      if ((await deps.kube.getVersion()).gitVersion === version) return;
    } catch {
      // not answering yet: the unit is restarting
    }
    if (deps.clock.now() > deadline) throw new DemoError(`the apiserver did not come back as ${version} within 60 s`);
    await deps.clock.sleep(500);
  }
}

interface ControlPlaneStep {
  readonly snapshot: StepReport['controlPlane']['snapshot'];
  readonly components: StepReport['controlPlane']['components'][number][];
  readonly failure?: { readonly errorCode: string; readonly message: string };
}

/** One component swap on the control-plane node through its agent (held components are swapped and stay held). */
async function upgradeComponent(deps: DemoDeps, component: string, version: string): Promise<{ result: NodeUpgradeResult; durationMs: number }> {
  const t0 = deps.clock.now();
  const data = await deps.releaseBinary(component, version);
  await deps.controlPlane.stageBinary({ version, sha256: createHash('sha256').update(data).digest('hex'), size: data.length, component }, data);
  const runId = `demo-${version.replace(/[^0-9a-z]/gi, '-')}-${component}-${deps.clock.now()}`;
  const result = await upgradeNode('control-plane', { upgrade: (req) => deps.controlPlane.upgradeFollow(req) }, { runId, targetVersion: version, component });
  return { result, durationMs: deps.clock.now() - t0 };
}

/**
 * Seed steps 4-5 on the control-plane node, all through its kip-agent: hold the controllers, take
 * a verified etcd snapshot, swap kube-apiserver (the agent verifies its healthz; the demo waits
 * for /version to say the new version), then swap the held controllers (left held until Release).
 */
async function upgradeControlPlane(deps: DemoDeps, step: VersionStep): Promise<ControlPlaneStep> {
  const cp = deps.controlPlane;
  for (const c of HELD) await cp.hold(c);
  const snap = await cp.etcdSnapshot();
  const snapshot = { id: snap.id, revision: Number(snap.revision), totalKeys: Number(snap.totalKeys), sizeBytes: Number(snap.sizeBytes) };
  const components: ControlPlaneStep['components'] = [];
  for (const component of ['kube-apiserver', ...HELD]) {
    const { result, durationMs } = await upgradeComponent(deps, component, step.to);
    components.push({ component, outcome: result.outcome, downtimeMs: result.kubeletDowntimeMs, durationMs });
    if (result.outcome !== 'succeeded') return { snapshot, components, failure: { errorCode: result.errorCode, message: result.message } };
    if (component === 'kube-apiserver') await waitForApiserver(deps, step.to);
  }
  return { snapshot, components };
}

async function upgradeWorkers(deps: DemoDeps, options: DemoOptions, step: VersionStep, workers: readonly string[]): Promise<NodeUpgradeResult[]> {
  const binary = Buffer.from(launcherScript({ version: step.to, skipFilePath: options.patched ? SKIP_FILE : undefined, ...labRuntime(deps.state) }));
  const meta = { version: step.to, sha256: createHash('sha256').update(binary).digest('hex'), size: binary.length };
  const results: NodeUpgradeResult[] = [];
  for (const batch of nodeBatches(workers, { canary: 1, concurrency: 1 })) {
    for (const node of batch) {
      const agent = deps.agents.get(node)!;
      await agent.stageBinary(meta, binary);
      const runId = `demo-${step.to.replace(/[^0-9a-z]/gi, '-')}-${node}-${deps.clock.now()}`;
      const result = await upgradeNode(node, { upgrade: (req) => agent.upgradeFollow(req) }, { runId, targetVersion: step.to, allowUnpatched: !options.patched });
      results.push(result);
      const downtime = result.kubeletDowntimeMs === undefined ? '' : `, kubelet down ${seconds(result.kubeletDowntimeMs)}`;
      deps.out(`  ${node}: ${result.outcome}${downtime}${result.outcome === 'succeeded' ? '' : ` — ${result.errorCode}: ${result.message}`}`);
      if (result.outcome !== 'succeeded') return results;
    }
  }
  return results;
}

export function formatDemoReport(r: DemoReport): string {
  const rows = r.steps.map((s) => {
    const downtimes = s.nodes.map((n) => n.kubeletDowntimeMs ?? 0);
    const api = s.controlPlane.components.find((c) => c.component === 'kube-apiserver')?.downtimeMs;
    return [`${s.from} -> ${s.to}`, `${s.restarted.length}/${s.containers}`, String(s.predicted), seconds(Math.max(0, ...downtimes)), api === undefined ? '-' : seconds(api), seconds(s.durationMs)];
  });
  const header = ['STEP', 'RESTARTED', 'WOULD RESTART WITHOUT SKIP FILE', 'MAX KUBELET DOWNTIME', 'APISERVER DOWNTIME', 'DURATION'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [
    line(header),
    ...rows.map(line),
    `${r.outcome === 'completed' ? 'done' : `stopped: ${r.stoppedBecause}`}: ${r.restartedTotal} of ${r.containers} containers restarted (${r.patched ? 'patched kubelets with the skip file' : 'unpatched kubelets'}), ${seconds(r.durationMs)} in all`,
  ].join('\n');
}
