/**
 * The lab's numbers (issue 4, "Numbers"): `kip-lab up` time and memory per node, and one full
 * demo upgrade's wall time (v1.10 -> v1.17, patched kubelets, through kip-agent), each as a user
 * runs it: the CLI and the demo in their own processes, on a private state dir and address prefix
 * so a lab the user has up is not touched. Ends with `kip-lab down`. Runs as root; about 8 minutes.
 *
 * KIP_BENCH_LAB_DEMO=0 measures `lab up` only.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execaExec } from '../lib/exec.ts';
import { readLabState } from '../scripts/lab/lab.ts';
import { formatBreakdown } from '../scripts/lab/memory.ts';
import type { CliDemoReport } from '../scripts/demo/cli-demo.ts';

const REPO = path.resolve(import.meta.dirname, '..');
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

export async function runLabBench(): Promise<void> {
  const stateDir = await mkdtemp(path.join(tmpdir(), 'kip-bench-lab-'));
  const kip = (args: string[], timeoutMs: number) =>
    execaExec(process.execPath, [path.join(REPO, 'bin/kip-lab.mjs'), ...args, '--state-dir', stateDir], { timeoutMs, cwd: REPO });
  try {
    const t0 = performance.now();
    const up = await kip(['up', '--address-prefix', '127.0.77'], 600_000);
    const upWall = performance.now() - t0;
    if (up.exitCode !== 0) throw new Error(`kip-lab up failed:\n${up.stdout}\n${up.stderr}`);
    const state = await readLabState(stateDir);
    const summary = state?.summary;
    const memory = Object.entries(summary?.memoryBytes ?? {}).map(([n, b]) => `${n} ${Math.round(b / 1048576)} MiB`).join(', ');
    for (const [n, b] of Object.entries(summary?.memoryBreakdown ?? {})) process.stdout.write(`  ${n}: ${formatBreakdown(b)}\n`);
    process.stdout.write(`lab up: ${seconds(upWall)} wall (${seconds(summary?.upMs ?? 0)} inside the supervisor), ${summary?.nodes ?? 0} nodes, ${summary?.pods ?? 0} pods, ${summary?.containers ?? 0} containers | memory per node: ${memory}\n`);
    if (process.env.KIP_BENCH_LAB_DEMO === '0') return;
    const t1 = performance.now();
    const demo = await execaExec(process.execPath, ['--import', 'tsx', path.join(REPO, 'scripts/demo/main.ts'), '--state-dir', stateDir], { timeoutMs: 1_800_000, cwd: REPO });
    const demoWall = performance.now() - t1;
    if (demo.exitCode !== 0) throw new Error(`demo failed:\n${demo.stdout}\n${demo.stderr}`);
    const report = JSON.parse(await readFile(path.join(stateDir, 'demo-report.json'), 'utf8')) as CliDemoReport;
    const perStep = report.steps.map((s) => seconds(s.durationMs)).join(' / ');
    // The demo is the kip CLI now: per step the largest kubelet downtime of its nodes (kip's journal).
    const downtimes = report.steps.map((s) => s.maxKubeletDowntimeMs ?? 0).sort((a, b) => a - b);
    const medianDowntime = downtimes[Math.floor(downtimes.length / 2)] ?? 0;
    process.stdout.write(`demo (kip CLI) upgrade ${report.steps[0]?.from ?? '?'} -> ${report.target}: ${seconds(demoWall)} wall, kip upgrade ${seconds(report.upgradeMs)}, ${report.steps.length} steps (${perStep}), ${report.restartedTotal} of ${report.containers} containers restarted, median of the per-step max kubelet downtime ${seconds(medianDowntime)}\n`);
  } finally {
    const down = await kip(['down'], 300_000);
    if (down.exitCode !== 0) process.stderr.write(`kip-lab down failed:\n${down.stdout}\n${down.stderr}\n`);
    await rm(stateDir, { recursive: true, force: true });
  }
}
