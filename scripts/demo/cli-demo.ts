/**
 * `npm run demo`: the kip CLI against the lab, exactly as a user runs it against a real cluster
 * (bin/kip.mjs as a child process, with the files the lab writes: kubeconfig, STATE/kip/pki,
 * STATE/kip/inventory.yaml, STATE/releases): `kip preflight --to --fix node-labels`, `kip plan`,
 * `kip stage`, `kip upgrade`, `kip report`. Nothing in the upgrade path is the demo's.
 *
 * The demo only watches, and judges kip by what it does not control (./runtime-oracle.ts): the
 * containers the workers' runtimes run before and after each control-plane step (a step starts
 * at kip's "pod baseline" line of the next one; the lab kubelets' first completed sync at the new
 * version comes first, so whatever a kubelet would do to a container is done), and the restarts
 * the golden hashes predict for an upstream kubelet. Downtimes are kip's own figures (the agents'
 * stop -> healthy), read from its journal.
 */
import { join } from 'node:path';
import type { Clock } from '../../lib/clock.ts';
import type { Exec } from '../../lib/exec.ts';
import type { KubeClient } from '../../lib/kube/index.ts';
import type { KubeRest } from '../../lib/kube/raw.ts';
import { openSqliteStore } from '../../coordinator/store/sqlite.ts';
import { parseSpec } from '../../coordinator/rollout/spec.ts';
import { parseCpJournalKind } from '../../coordinator/rollout/control-plane-plan.ts';
import type { ContainerHasher } from '../lab/kubelet/hashes.ts';
import type { JsonNode } from '../../lib/knowledge/hash/index.ts';
import type { LabState } from '../lab/lab.ts';
import type { SyncReport } from '../lab/kubelet/kubelet.ts';
import { DemoError, waitFirstSync, waitSettled } from './demo.ts';
import { kipCli, nonEmptyLines } from './kip-cli.ts';
import { predictedRestarts, restartsBetween, runtimeSnapshot, type RuntimeSnapshot, type RuntimeSource } from './runtime-oracle.ts';

export interface CliDemoDeps {
  readonly state: LabState;
  /** The kip CLI as a user starts it: [node, bin/kip.mjs]. */
  readonly kip: readonly [string, string];
  readonly exec: Exec;
  readonly clock: Clock;
  readonly out: (line: string) => void;
  readonly kube: KubeClient;
  readonly rest: KubeRest;
  readonly runtimes: readonly RuntimeSource[];
  readonly hasher: ContainerHasher;
  /** Each worker's static pod manifest (the lab's oracle static pod), as the kubelet reads it. */
  readonly staticPods: ReadonlyMap<string, JsonNode>;
  readonly kubeletSyncs: (node: string) => Promise<SyncReport | undefined>;
}

export interface CliStepReport {
  readonly from: string;
  readonly to: string;
  readonly containers: number;
  /** Judged from the runtimes: node/pod/container restarted or gone during the step. */
  readonly restarted: readonly string[];
  /** What an upstream kubelet `to` would restart (golden hashes against the runtime's labels). */
  readonly predicted: number;
  readonly maxKubeletDowntimeMs: number | undefined;
  readonly apiserverDowntimeMs: number | undefined;
  readonly durationMs: number;
}

export interface CliDemoReport {
  readonly target: string;
  readonly runId: string;
  readonly runPhase: string;
  readonly startedAt: string;
  readonly upgradeMs: number;
  readonly durationMs: number;
  readonly containers: number;
  readonly steps: readonly CliStepReport[];
  readonly restartedTotal: number;
  readonly etcdSnapshots: readonly string[];
  readonly reports: readonly string[];
  readonly versions: { readonly apiserver: string; readonly kubelets: Readonly<Record<string, string>> };
  readonly outcome: 'completed' | 'stopped';
  readonly stoppedBecause?: string;
}

const seconds = (ms: number | undefined): string => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);
const BASELINE_LINE = /^control plane (v\d+\.\d+\.\d+): pod baseline for the post-checks/;

interface OpenStep {
  readonly to: string;
  readonly startedAt: number;
  readonly before: RuntimeSnapshot;
  readonly predicted: number;
}

export async function runCliDemo(target: string, deps: CliDemoDeps): Promise<CliDemoReport> {
  const { state, out, clock } = deps;
  const cli = kipCli(state, deps.kip, deps.exec, out);
  const { common, kipState, releases } = cli;
  const kip = cli.run;
  const lines = nonEmptyLines;
  const workers = state.nodes.filter((n) => n.role === 'worker').map((n) => n.name).sort();
  const started = clock.now();

  const firstPods = await waitSettled(async () => (await deps.kube.listPods()).items, clock, 90_000);
  out(`kip demo: the kip CLI against the lab, ${workers.length} workers, ${firstPods.length} pods; in-place upgrade to ${target}`);

  // 1-3. preflight --fix node-labels, plan, stage (kip-cli.ts)
  await cli.prepare(target);

  // 4. the upgrade, watched step by step from the runtimes
  await waitSettled(async () => (await deps.kube.listPods()).items, clock, 90_000);
  const initial = await runtimeSnapshot(deps.runtimes);
  const predict = async (snap: RuntimeSnapshot, version: string): Promise<number> => {
    const p = predictedRestarts(snap, (await deps.rest.get('/api/v1/pods')).node, version, deps.hasher, deps.staticPods);
    if (p.unknown.length > 0) out(`  (the golden vectors do not answer for ${p.unknown.length} containers at ${version}: ${p.unknown.slice(0, 3).join(', ')})`);
    return p.count;
  };
  const closed: { to: string; before: RuntimeSnapshot; after: RuntimeSnapshot; predicted: number; durationMs: number }[] = [];
  let open: OpenStep | undefined;
  let from = (await deps.kube.getVersion()).gitVersion;
  const closeStep = async (endedAt: number): Promise<RuntimeSnapshot> => {
    const o = open!;
    // Each new kubelet completed a sync of every pod at the step's version: it did what it would do.
    await waitFirstSync(workers, o.to, deps.kubeletSyncs, clock, 180_000).catch((err: unknown) => out(`  (${err instanceof Error ? err.message : String(err)})`));
    const after = await runtimeSnapshot(deps.runtimes);
    closed.push({ to: o.to, before: o.before, after, predicted: o.predicted, durationMs: endedAt - o.startedAt });
    return after;
  };
  let watching: Promise<void> = Promise.resolve();
  const onStep = (to: string, at: number): void => {
    watching = watching.then(async () => {
      const before = open ? await closeStep(at) : initial;
      open = { to, startedAt: at, before, predicted: await predict(before, to) };
    });
  };
  const upgradeStarted = clock.now();
  const up = await kip(['upgrade', '--to', target, '--releases', releases, ...common], (r) => lines(r.stdout), [0, 1], (line) => {
    out(`  | ${line}`);
    const m = BASELINE_LINE.exec(line);
    if (m) onStep(m[1]!, clock.now());
  });
  await watching;
  const upgradeEnded = clock.now();
  const upgradeMs = upgradeEnded - upgradeStarted;
  if (open) await closeStep(upgradeEnded);
  await waitSettled(async () => (await deps.kube.listPods()).items, clock, 90_000);

  // 5. kip's journal: the run, its downtimes, its etcd snapshots
  const store = openSqliteStore(join(kipState, 'runs.db'));
  let steps: CliStepReport[];
  let run;
  const snapshots: string[] = [];
  try {
    run = store.latestRun();
    if (!run) throw new DemoError(`kip upgrade left no run in ${kipState}`);
    const spec = parseSpec(run.spec);
    const nodes = store.nodes(run.id);
    const actions = store.actions(run.id);
    for (const a of actions) {
      const k = parseCpJournalKind(a.kind);
      if (a.outcome === 'ok' && k?.key === 'etcd-snapshot') snapshots.push((JSON.parse(a.result) as { path: string }).path);
    }
    steps = closed.map((c) => {
      const kubeletSteps = spec.steps.filter((s) => s.to === c.to).map((s) => s.index);
      const downs = nodes.filter((n) => kubeletSteps.includes(n.step) && n.downtimeMs !== null).map((n) => n.downtimeMs!);
      const cp = spec.controlPlane?.find((s) => s.to === c.to);
      const api = actions.find((a) => a.outcome === 'ok' && cp && parseCpJournalKind(a.kind)?.step === cp.index && parseCpJournalKind(a.kind)?.key.startsWith('apiserver:'));
      const apiDown = api ? (JSON.parse(api.result) as { downtimeMs?: number | null }).downtimeMs ?? undefined : undefined;
      const { restarted, gone } = restartsBetween(c.before, c.after);
      const report: CliStepReport = {
        from, to: c.to, containers: c.before.size, restarted: [...restarted, ...gone.map((g) => `${g} (gone)`)], predicted: c.predicted,
        maxKubeletDowntimeMs: downs.length > 0 ? Math.max(...downs) : undefined, apiserverDowntimeMs: apiDown, durationMs: c.durationMs,
      };
      from = c.to;
      return report;
    });
  } finally {
    store.close();
  }

  // 6. kip report: Markdown and the self-contained HTML page
  const rep = await kip(['report', '--state-dir', kipState], (r) => lines(r.stdout));
  const final = restartsBetween(initial, await runtimeSnapshot(deps.runtimes));
  const kubelets = Object.fromEntries((await deps.kube.listNodes()).map((n) => [n.metadata?.name ?? '', n.status?.nodeInfo?.kubeletVersion ?? '']));
  const stopped = run.phase !== 'succeeded' ? `kip upgrade: run ${run.id} ${run.phase}${run.reason ? `: ${run.reason}` : ''} (exit ${up.exitCode})` : undefined;
  return {
    target, runId: run.id, runPhase: run.phase, startedAt: new Date(started).toISOString(), upgradeMs, durationMs: clock.now() - started,
    containers: initial.size, steps, restartedTotal: final.restarted.length + final.gone.length, etcdSnapshots: snapshots, reports: lines(rep.stdout),
    versions: { apiserver: (await deps.kube.getVersion()).gitVersion, kubelets },
    outcome: stopped ? 'stopped' : 'completed', ...(stopped ? { stoppedBecause: stopped } : {}),
  };
}

export function formatCliDemoReport(r: CliDemoReport): string {
  const rows = r.steps.map((s) => [`${s.from} -> ${s.to}`, `${s.restarted.length}/${s.containers}`, String(s.predicted), seconds(s.maxKubeletDowntimeMs), seconds(s.apiserverDowntimeMs), seconds(s.durationMs)]);
  const header = ['STEP', 'RESTARTED', 'WOULD RESTART WITHOUT SKIP FILE', 'MAX KUBELET DOWNTIME', 'APISERVER DOWNTIME', 'DURATION'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const restartedLines = r.steps.flatMap((s) => s.restarted.slice(0, 8).map((x) => `  ${s.to} restarted: ${x}`));
  const kubelets = [...new Set(Object.values(r.versions.kubelets))].join(', ');
  return [
    line(header),
    ...rows.map(line),
    ...restartedLines,
    `${r.outcome === 'completed' ? 'done' : `stopped: ${r.stoppedBecause}`}: ${r.restartedTotal} of ${r.containers} containers restarted (judged from containerd and dockerd), kip upgrade ${seconds(r.upgradeMs)}, the whole demo ${seconds(r.durationMs)}`,
    `now: apiserver ${r.versions.apiserver}, kubelets ${kubelets}; etcd snapshots kept by kip: ${r.etcdSnapshots.length} (${r.etcdSnapshots[0] ?? '-'}${r.etcdSnapshots.length > 1 ? ', ...' : ''})`,
    `kip report: ${r.reports.join('  ')}`,
  ].join('\n');
}
