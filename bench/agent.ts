/**
 * kip-agent's numbers (issue 3, "Numbers"): kubelet downtime per swap (stop -> first healthy),
 * against the stand-in kubelet's own restart time measured in the same run, and the agent's idle
 * RSS and CPU. One systemd node (test/harness/agent-node.ts) with the agent as a unit and a
 * stand-in kubelet; the agent is driven over gRPC + mutual TLS exactly as the coordinator does.
 *
 * Each round: one baseline restart, one upgrade v1.10.13 -> v1.11.10, one baseline restart, one
 * Rollback; so 2 * rounds real stop -> swap -> start -> healthy cycles and as many baselines,
 * interleaved so that load from other work on the machine hits both alike. One unmeasured warm-up
 * round first. Downtime comes from the agent's own step events (agent clock): STOP_KUBELET (or
 * ROLLBACK_STOP) started -> the first healthy answer its VERIFY step saw.
 *
 * Environment: KIP_BENCH_AGENT_ROUNDS (default 15), KIP_BENCH_AGENT_POLL_MS (the agent's verify
 * poll interval, default 50), KIP_BENCH_AGENT_STABLE_MS (stability window, default 300).
 * Runs as root (nspawn); not part of `npm test`.
 */
import { loadavg } from 'node:os';
import { bootAgentNode, sha256, standInKubelet, type AgentNode } from '../scripts/nspawn/agent-node.ts';
import type { StepEvent } from '../coordinator/fleet/client.ts';
import { BenchDataError, cpuPercent, envInt, figures, median, memoryKiB, ms, percentile, restartScript, swapTiming, type SwapTiming } from './agent-stats.ts';

const OLD = 'v1.10.13';
const NEW = 'v1.11.10';
const GOAL_OVERHEAD_MS = 300;
const IDLE_SAMPLE_S = 5;

const mib = (kib: number): string => `${(kib / 1024).toFixed(1)} MiB`;

async function baselineRestart(an: AgentNode): Promise<number> {
  const r = await an.node.exec('python3', ['-c', restartScript('kubelet.service', `http://127.0.0.1:${an.healthzPort}/healthz`)], { timeoutMs: 90_000 });
  const v = Number(r.stdout.trim());
  if (r.exitCode !== 0 || !Number.isFinite(v)) throw new BenchDataError(`baseline restart failed (${String(r.exitCode)}): ${r.stderr}${r.stdout}\n${await an.logs()}`);
  return v;
}

/** `systemctl daemon-reload` alone, timed in the node (the agent reloads before every start). */
async function daemonReload(an: AgentNode): Promise<number> {
  const script = ['import subprocess, time', 't = time.monotonic()', 'subprocess.run(["systemctl", "daemon-reload"], check=True)', 'print(round((time.monotonic() - t) * 1000))'].join('\n');
  const r = await an.node.exec('python3', ['-c', script], { timeoutMs: 90_000 });
  const v = Number(r.stdout.trim());
  if (r.exitCode !== 0 || !Number.isFinite(v)) throw new BenchDataError(`daemon-reload failed (${String(r.exitCode)}): ${r.stderr}${r.stdout}`);
  return v;
}

async function upgrade(an: AgentNode, runId: string): Promise<StepEvent[]> {
  const events: StepEvent[] = [];
  for await (const e of an.client.upgrade({ runId, targetVersion: NEW })) events.push(e);
  const last = events.at(-1);
  if (last?.phase !== 'RUN_SUCCEEDED') throw new BenchDataError(`upgrade ${runId} ended ${last?.phase ?? 'without events'}: ${last?.message ?? ''}\n${await an.logs()}`);
  return events;
}

async function rollback(an: AgentNode, runId: string): Promise<StepEvent[]> {
  const run = await an.client.rollback(runId);
  if (run.phase !== 'RUN_ROLLED_BACK') throw new BenchDataError(`rollback of ${runId} ended ${run.phase}: ${run.errorMessage}\n${await an.logs()}`);
  return run.events;
}

export interface IdleSample {
  readonly rssKiB: number;
  readonly hwmKiB: number;
  readonly cpuPct: number;
  readonly seconds: number;
  readonly cgroup: string;
}

/** VmRSS of the agent's MainPID and its CPU over IDLE_SAMPLE_S, read inside the node. */
export async function idleSample(an: AgentNode): Promise<IdleSample> {
  const pid = await an.mainPid('kip-agent.service');
  if (!(pid > 0)) throw new BenchDataError('kip-agent.service has no main process');
  const out = await an.sh(
    `getconf CLK_TCK; date +%s%N; cat /proc/${pid}/stat; sleep ${IDLE_SAMPLE_S}; date +%s%N; cat /proc/${pid}/stat; cat /proc/${pid}/status`,
    (IDLE_SAMPLE_S + 30) * 1000,
  );
  const lines = out.split('\n');
  const [tck, t0, stat0, t1, stat1] = lines;
  const status = lines.slice(5).join('\n');
  if (!tck || !t0 || !stat0 || !t1 || !stat1) throw new BenchDataError(`unexpected idle sample output: ${out.slice(0, 200)}`);
  const elapsedMs = (Number(t1) - Number(t0)) / 1e6;
  // Every process of the unit (a child such as a compiler service would count against the agent).
  const procs = await an.sh(
    'cg=$(systemctl show -p ControlGroup --value kip-agent.service); for p in $(cat /sys/fs/cgroup$cg/cgroup.procs); do awk \'/^VmRSS:/ {print $2}\' /proc/$p/status 2>/dev/null; done',
  );
  const rss = procs.split('\n').filter((l) => /^\d+$/.test(l.trim())).map(Number);
  const cgroup = `${rss.length} process(es) in the unit, VmRSS sum ${mib(rss.reduce((a, b) => a + b, 0))}`;
  return { ...memoryKiB(status), cpuPct: cpuPercent(stat0, stat1, elapsedMs, Number(tck)), seconds: elapsedMs / 1000, cgroup };
}

function idleLine(label: string, s: IdleSample): string {
  return `agent idle (${label}): VmRSS ${mib(s.rssKiB)} (peak ${mib(s.hwmKiB)}) | CPU ${s.cpuPct.toFixed(2)}% of one core over ${s.seconds.toFixed(1)} s | ${s.cgroup}\n`;
}

export async function runAgentBench(): Promise<void> {
  const rounds = envInt('KIP_BENCH_AGENT_ROUNDS', 15, 8);
  const pollMs = envInt('KIP_BENCH_AGENT_POLL_MS', 50, 10);
  const stableMs = envInt('KIP_BENCH_AGENT_STABLE_MS', 300, 0);
  const logLevel = 'info';
  const out = (s: string) => process.stdout.write(s);

  const t0 = performance.now();
  const an = await bootAgentNode({ name: 'kip-bench-agent', kubeletVersion: OLD, stableMs, pollMs, verifyTimeoutMs: 30_000, logLevel });
  // Ctrl-C still stops the node (the finally below does not run on a signal).
  const onSignal = (sig: NodeJS.Signals) => {
    void an.stop().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const bootMs = performance.now() - t0;
    const newBin = standInKubelet(NEW);
    const staged = await an.client.stageBinary({ version: NEW, sha256: sha256(newBin), size: newBin.length }, newBin);
    if (!staged.binary?.patched) throw new BenchDataError('the staged stand-in was not recognised as patched');

    // Let the agent settle after start-up (module loading, first GetNode) before the idle sample.
    await new Promise((r) => setTimeout(r, 3_000));
    const idleBoot = await idleSample(an);

    // Warm-up round, not counted.
    await baselineRestart(an);
    await upgrade(an, 'bench-warmup');
    await rollback(an, 'bench-warmup');

    const restarts: number[] = [];
    const swaps: { kind: 'upgrade' | 'rollback'; t: SwapTiming }[] = [];
    const cycleMs: number[] = [];
    const reloads: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const runId = `bench-${i + 1}`;
      reloads.push(await daemonReload(an));
      restarts.push(await baselineRestart(an));
      let c = performance.now();
      swaps.push({ kind: 'upgrade', t: swapTiming(await upgrade(an, runId), 'upgrade') });
      cycleMs.push(performance.now() - c);
      restarts.push(await baselineRestart(an));
      c = performance.now();
      swaps.push({ kind: 'rollback', t: swapTiming(await rollback(an, runId), 'rollback') });
      cycleMs.push(performance.now() - c);
    }
    const node = await an.client.getNode();
    if (node.kubeletVersion !== OLD) throw new BenchDataError(`after the rounds the node runs ${node.kubeletVersion}, expected ${OLD}`);

    await new Promise((r) => setTimeout(r, 3_000));
    const idleAfter = await idleSample(an);

    const down = swaps.map((s) => s.t.downtimeMs);
    const up = swaps.filter((s) => s.kind === 'upgrade').map((s) => s.t.downtimeMs);
    const back = swaps.filter((s) => s.kind === 'rollback').map((s) => s.t.downtimeMs);
    const part = (k: keyof SwapTiming) => ms(median(swaps.map((s) => s.t[k])));
    const overhead = median(down) - median(restarts);
    const met = overhead < GOAL_OVERHEAD_MS;

    out(`agent swap downtime (stop -> first healthy, agent clock): ${figures(down)} | n=${down.length} (${up.length} upgrades ${OLD}->${NEW}: median ${ms(median(up))}; ${back.length} rollbacks: median ${ms(median(back))})\n`);
    out(`stand-in kubelet restart (systemctl restart -> healthz ok, in the node): ${figures(restarts)} | n=${restarts.length}, interleaved with the swaps\n`);
    out(`agent overhead: ${ms(overhead)} at the median (median downtime / median restart = ${(median(down) / median(restarts)).toFixed(2)}x); goal < ${GOAL_OVERHEAD_MS} ms: ${met ? 'met' : 'NOT met'}\n`);
    out(`swap breakdown (medians): stop ${part('stopMs')} | swap binary + journal ${part('swapMs')} | daemon-reload + start ${part('startMs')} | start -> first healthy ${part('toHealthyMs')} (agent polls every ${pollMs} ms)\n`);
    out(`systemctl daemon-reload alone (in the node): ${figures(reloads)} | n=${reloads.length}; part of the agent's start step, not of the baseline restart\n`);
    out(idleLine('after start-up', idleBoot));
    out(idleLine(`after ${swaps.length} swaps`, idleAfter));
    out(`setup: agent pollMs ${pollMs}, stableMs ${stableMs}, logLevel ${logLevel} | whole run per swap (RPC in -> done) median ${ms(median(cycleMs))} | node boot ${ms(bootMs)} | host load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}\n`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await an.stop();
  }
}
