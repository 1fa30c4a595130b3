/**
 * `npm run demo -- --unpatched`: the same kip CLI against a lab whose kubelets are upstream's
 * (no skip-file patch), to show what kip does when a kubelet restart restarts containers:
 * `kip preflight`, `kip plan` (its prediction of what an unpatched kubelet restarts),
 * `kip stage`, `kip upgrade --allow-unpatched` (which must pause at the first node whose
 * containers restart, with that reason), then the restarts seen on each node set against kip's
 * stored prediction for it, `kip rollback` and `kip report`.
 *
 * As in the patched demo (./cli-demo.ts) the demo only watches and judges from what kip does not
 * control (./runtime-oracle.ts): the containers containerd and dockerd run, and the golden hashes
 * of the real Go kubelet. It is "as expected" when kip paused on container restarts, the restarts
 * on the paused node are the ones kip predicted for it (count) and the golden hashes predict
 * (names), no other node lost a container, the rollback put the old kubelet back, and what the
 * rollback restarted again is what the golden hashes predict for the old kubelet.
 */
import { join } from 'node:path';
import type { JsonNode } from '../../lib/knowledge/hash/index.ts';
import { openSqliteStore } from '../../coordinator/store/sqlite.ts';
import { parseSpec, type KubeletStepSpec, type StepPrediction } from '../../coordinator/rollout/spec.ts';
import type { CliDemoDeps } from './cli-demo.ts';
import { waitFirstSync, waitSettled } from './demo.ts';
import { kipCli, nonEmptyLines } from './kip-cli.ts';
import { predictedRestarts, restartsBetween, runtimeSnapshot, type RuntimeSnapshot } from './runtime-oracle.ts';

export interface UnpatchedNode {
  readonly node: string;
  /** node/ns/pod/container restarted or gone during `kip upgrade`, judged from the runtimes. */
  readonly restarted: readonly string[];
  /** kip's stored prediction for this node at the step it paused in (RunSpec.predictedRestarts). */
  readonly kipPredicted?: { readonly containers: number; readonly wouldRestart: number };
  /** What the golden hashes say an upstream kubelet of the paused step restarts here. */
  readonly goldenPredicted: readonly string[];
}

export interface UnpatchedCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface UnpatchedDemoReport {
  readonly target: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly upgradeMs: number;
  readonly upgradeExit: number | undefined;
  readonly runId: string;
  readonly runPhase: string;
  readonly pauseReason: string;
  readonly pausedStep?: { readonly index: number; readonly to: string; readonly nodes: readonly string[]; readonly prediction?: StepPrediction };
  readonly pausedNodes: readonly string[];
  /** Running containers on the workers when the upgrade began (containerd and dockerd). */
  readonly containers: number;
  readonly nodes: readonly UnpatchedNode[];
  readonly rollback?: {
    readonly exit: number | undefined;
    readonly lines: readonly string[];
    readonly ms: number;
    /** Restarted or gone while the old kubelet came back, judged from the runtimes. */
    readonly restarted: readonly string[];
    /** What the golden hashes say the old (upstream) kubelet restarts: the labels are the new kubelet's now. */
    readonly goldenPredicted: readonly string[];
    readonly kubelets: Readonly<Record<string, string>>;
  };
  readonly reports: readonly string[];
  readonly checks: readonly UnpatchedCheck[];
  readonly expected: boolean;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const onNode = (snap: RuntimeSnapshot, nodes: readonly string[]): RuntimeSnapshot => new Map([...snap].filter(([, c]) => nodes.includes(c.node)));
const sameList = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);

export async function runUnpatchedDemo(target: string, deps: CliDemoDeps): Promise<UnpatchedDemoReport> {
  const { state, out, clock } = deps;
  const cli = kipCli(state, deps.kip, deps.exec, out);
  const { common, kipState, releases } = cli;
  const kip = cli.run;
  const lines = nonEmptyLines;
  const workers = state.nodes.filter((n) => n.role === 'worker').map((n) => n.name).sort();
  const started = clock.now();
  const settle = () => waitSettled(async () => (await deps.kube.listPods()).items, clock, 120_000);
  const podTree = async (): Promise<JsonNode> => (await deps.rest.get('/api/v1/pods')).node;
  const golden = (snap: RuntimeSnapshot, pods: JsonNode, version: string): string[] => {
    const p = predictedRestarts(snap, pods, version, deps.hasher, deps.staticPods);
    if (p.unknown.length > 0) out(`  (the golden vectors do not answer for ${p.unknown.length} containers at ${version}: ${p.unknown.slice(0, 3).join(', ')})`);
    return p.names;
  };

  const firstPods = await settle();
  out(`kip demo: UNPATCHED (upstream) kubelets, the kip CLI against the lab, ${workers.length} workers, ${firstPods.length} pods; in-place upgrade to ${target}`);

  // 1-3. preflight --fix node-labels, plan, stage (kip-cli.ts)
  await cli.prepare(target);

  // 4. the upgrade: exit 1 (paused) is what this demo expects
  await settle();
  const initial = await runtimeSnapshot(deps.runtimes);
  const upgradeStarted = clock.now();
  const up = await kip(['upgrade', '--to', target, '--releases', releases, '--allow-unpatched', ...common], (r) => lines(r.stdout), [0, 1], (line) => out(`  | ${line}`));
  const upgradeMs = clock.now() - upgradeStarted;
  await kip(['status', ...common], (r) => lines(r.stdout).slice(0, 24), [0, 1]);

  const store = openSqliteStore(join(kipState, 'runs.db'));
  let run;
  let stepSpec: KubeletStepSpec | undefined;
  let prediction: StepPrediction | undefined;
  let paused: string[];
  try {
    run = store.latestRun();
    if (!run) throw new Error(`kip upgrade left no run in ${kipState}`);
    const spec = parseSpec(run.spec);
    const failed = store.nodes(run.id).filter((n) => n.phase === 'failed');
    const step = failed.length > 0 ? Math.max(...failed.map((n) => n.step)) : undefined;
    stepSpec = spec.steps.find((s) => s.index === step);
    prediction = spec.predictedRestarts?.find((p) => p.step === step);
    paused = failed.filter((n) => n.step === step).map((n) => n.node).sort();
  } finally {
    store.close();
  }

  // What the paused node's new kubelet did is done once it synced every pod at its version.
  if (stepSpec && paused.length > 0) await waitFirstSync(paused, stepSpec.to, deps.kubeletSyncs, clock, 180_000).catch((err: unknown) => out(`  (${err instanceof Error ? err.message : String(err)})`));
  await settle();
  const afterUpgrade = await runtimeSnapshot(deps.runtimes);
  const pods = await podTree();
  const seen = restartsBetween(initial, afterUpgrade);
  const lost = [...seen.restarted, ...seen.gone.map((g) => `${g} (gone)`)];
  const nodes: UnpatchedNode[] = workers.map((node) => {
    const p = prediction?.nodes?.[node];
    return {
      node,
      restarted: lost.filter((x) => x.startsWith(`${node}/`)),
      ...(p ? { kipPredicted: p } : {}),
      goldenPredicted: stepSpec && paused.includes(node) ? golden(onNode(initial, [node]), pods, stepSpec.to) : [],
    };
  });

  // 5. rollback of the paused step's nodes through their agents
  let rollback: UnpatchedDemoReport['rollback'];
  if (stepSpec && paused.length > 0) {
    const fromOf = new Map(stepSpec.nodes.map((n) => [n.name, n.from]));
    const rbStarted = clock.now();
    const rb = await kip(['rollback', ...common], (r) => lines(r.stdout), [0, 1]);
    for (const node of paused) {
      await waitFirstSync([node], fromOf.get(node) ?? '', deps.kubeletSyncs, clock, 180_000).catch((err: unknown) => out(`  (${err instanceof Error ? err.message : String(err)})`));
    }
    await settle();
    const afterRollback = await runtimeSnapshot(deps.runtimes);
    const again = restartsBetween(afterUpgrade, afterRollback);
    const kubelets = Object.fromEntries((await deps.kube.listNodes()).map((n) => [n.metadata?.name ?? '', n.status?.nodeInfo?.kubeletVersion ?? '']));
    rollback = {
      exit: rb.exitCode, lines: lines(rb.stdout), ms: clock.now() - rbStarted,
      restarted: [...again.restarted, ...again.gone.map((g) => `${g} (gone)`)],
      goldenPredicted: paused.flatMap((node) => golden(onNode(afterUpgrade, [node]), pods, fromOf.get(node) ?? '')),
      kubelets,
    };
  }

  // 6. kip report
  const rep = await kip(['report', '--state-dir', kipState], (r) => lines(r.stdout));

  const checks: UnpatchedCheck[] = [];
  const check = (name: string, ok: boolean, detail: string): void => { checks.push({ name, ok, detail }); };
  check('kip upgrade paused', up.exitCode === 1 && run.phase === 'paused', `exit ${up.exitCode}, run ${run.phase}`);
  check('because containers restarted', /restarted/.test(run.reason) && paused.length > 0, run.reason || '(no reason)');
  const stepNodes = stepSpec?.nodes.map((n) => n.name) ?? [];
  const onStep = onNode(initial, stepNodes).size;
  check('kip counts the containers the runtimes run', prediction !== undefined && prediction.containers === onStep, `kip: ${prediction?.containers ?? '-'} on the step's nodes, containerd/dockerd: ${onStep}`);
  for (const n of nodes.filter((x) => paused.includes(x.node))) {
    check(`${n.node}: restarts as kip predicted`, n.restarted.length > 0 && n.kipPredicted?.wouldRestart === n.restarted.length, `restarted ${n.restarted.length}, kip predicted ${n.kipPredicted?.wouldRestart ?? '-'}`);
    check(`${n.node}: the containers the golden hashes name`, sameList(n.restarted, n.goldenPredicted), `${n.restarted.length} restarted, ${n.goldenPredicted.length} predicted`);
  }
  const elsewhere = nodes.filter((n) => !paused.includes(n.node)).flatMap((n) => n.restarted);
  check('no other node lost a container', elsewhere.length === 0, elsewhere.length === 0 ? 'none' : elsewhere.slice(0, 5).join(', '));
  if (rollback && stepSpec) {
    const back = paused.filter((n) => rollback!.kubelets[n] === stepSpec!.nodes.find((x) => x.name === n)?.from);
    check('kip rollback put the old kubelet back', rollback.exit === 0 && back.length === paused.length, `exit ${rollback.exit}; ${paused.map((n) => `${n} ${rollback!.kubelets[n] ?? '?'}`).join(', ')}`);
    check('what the rollback restarted again is what the golden hashes predict', sameList(rollback.restarted, rollback.goldenPredicted), `${rollback.restarted.length} restarted, ${rollback.goldenPredicted.length} predicted`);
    // kip's own warning, judged by the golden hashes' count per node (not by kip's code)
    const warned = paused.filter((n) => {
      const count = rollback!.goldenPredicted.filter((name) => name.startsWith(`${n}/`)).length;
      return rollback!.lines.some((l) => l.startsWith(`${n}: WARNING`) && l.includes(`restarts the ${count} container`));
    });
    check('kip rollback warned of those restarts, per node', warned.length === paused.length, `warned for ${warned.join(', ') || 'none'} of ${paused.join(', ')}`);
  }
  return {
    target, startedAt: new Date(started).toISOString(), durationMs: clock.now() - started, upgradeMs, upgradeExit: up.exitCode,
    runId: run.id, runPhase: run.phase, pauseReason: run.reason,
    ...(stepSpec ? { pausedStep: { index: stepSpec.index, to: stepSpec.to, nodes: stepNodes, ...(prediction ? { prediction } : {}) } } : {}),
    pausedNodes: paused, containers: initial.size, nodes, ...(rollback ? { rollback } : {}), reports: lines(rep.stdout),
    checks, expected: checks.every((c) => c.ok),
  };
}

export function formatUnpatchedReport(r: UnpatchedDemoReport): string {
  const out: string[] = [];
  const step = r.pausedStep;
  out.push(step
    ? `kip upgrade ${r.runPhase} (exit ${r.upgradeExit}) after ${seconds(r.upgradeMs)}, in kubelet step ${step.index + 1} (-> ${step.to}) on ${r.pausedNodes.join(', ')}: ${r.pauseReason}`
    : `kip upgrade ${r.runPhase} (exit ${r.upgradeExit}) after ${seconds(r.upgradeMs)}${r.pauseReason ? `: ${r.pauseReason}` : ''}`);
  const header = ['NODE', 'RESTARTED (containerd/dockerd)', `KIP PREDICTED${step ? ` (-> ${step.to})` : ''}`, 'GOLDEN HASHES PREDICT'];
  const rows = r.nodes.map((n) => [
    n.node, String(n.restarted.length), n.kipPredicted ? `${n.kipPredicted.wouldRestart} of ${n.kipPredicted.containers}` : '-',
    r.pausedNodes.includes(n.node) ? String(n.goldenPredicted.length) : 'not upgraded in this step',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  out.push(line(header), ...rows.map(line));
  for (const n of r.nodes) for (const x of n.restarted) out.push(`  restarted: ${x}`);
  if (step?.prediction) out.push(`kip's prediction for the whole step: ${step.prediction.wouldRestart} of ${step.prediction.containers} containers; the runtimes ran ${r.containers} on the workers`);
  if (r.rollback) {
    const rb = r.rollback;
    out.push(
      `kip rollback (exit ${rb.exit}, ${seconds(rb.ms)}): ${r.pausedNodes.map((n) => `${n} kubelet ${rb.kubelets[n] ?? '?'}`).join(', ')}`,
      '  it undoes: the kubelet (and kube-proxy) binary and unit of the paused step\'s nodes, through their agents; the run stays paused (kip resume would upgrade them again)',
      `  it does not undo: the ${r.nodes.reduce((n, x) => n + x.restarted.length, 0)} restarts (those processes and their in-memory state are gone; they run under new container ids), nor the control plane (it stays at ${step?.to ?? 'the step\'s version'}; kip names the etcd snapshot it kept)`,
      `  and the old upstream kubelet finds the new kubelet's hash labels on the containers it recreated: it restarted ${rb.restarted.length} again (the golden hashes predict ${rb.goldenPredicted.length})`,
    );
    for (const x of rb.restarted) out.push(`  restarted again: ${x}`);
  }
  out.push(`kip report: ${r.reports.join('  ')}`);
  out.push('checks:');
  for (const c of r.checks) out.push(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
  out.push(`${r.expected ? 'as expected' : 'NOT as expected'}: the unpatched run ${r.expected ? 'paused where kip predicted restarts, with the restarts it predicted' : 'did not behave as predicted (see the checks)'}; the whole demo ${seconds(r.durationMs)}`);
  return out.join('\n');
}
