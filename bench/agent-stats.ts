/**
 * Pure helpers of the agent bench (bench/agent.ts): percentiles, the downtime of one kubelet swap
 * read from the agent's own step events, idle CPU from two /proc/<pid>/stat samples; and what
 * bench/agent.ts and bench/components.ts share (knobs, figures, the timed plain restart).
 */
import { KipError } from '../lib/errors.ts';

/** The part of a step event the bench reads (coordinator/fleet StepEvent has these fields). */
export interface BenchStepEvent {
  readonly step: string;
  readonly status: string;
  /** Agent clock; a protobuf int64 may arrive as a string. */
  readonly atUnixMs: number | string;
  /** On VERIFY / ROLLBACK_VERIFY done: the new kubelet's first healthy answer (0 on other events). */
  readonly firstHealthyAtUnixMs: number | string;
}

export class BenchDataError extends KipError {
  constructor(message: string) {
    super('BENCH_DATA', message);
  }
}

/** Percentile by linear interpolation between closest ranks (p in [0, 100]). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new BenchDataError('percentile of no values');
  if (!(p >= 0 && p <= 100)) throw new BenchDataError(`percentile ${p} outside [0, 100]`);
  const s = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = s[lo] ?? 0;
  const b = s[hi] ?? a;
  return a + (b - a) * (rank - lo);
}

export const median = (values: readonly number[]): number => percentile(values, 50);

/** One swap as the agent saw it: all in ms, measured on the agent's clock. */
export interface SwapTiming {
  /** Stop step started -> the verify step's first healthy answer of the new kubelet. */
  readonly downtimeMs: number;
  /** Stop step started -> done (`systemctl stop`). */
  readonly stopMs: number;
  /** Stop done -> start step started (the binary swap or restore, with its journal writes). */
  readonly swapMs: number;
  /** Start step started -> done (`daemon-reload` + `systemctl start`). */
  readonly startMs: number;
  /** Start done -> first healthy (the kubelet's own start-up plus the agent's poll granularity). */
  readonly toHealthyMs: number;
}

const STEPS = {
  upgrade: { stop: 'STOP_KUBELET', start: 'START_KUBELET', verify: 'VERIFY' },
  rollback: { stop: 'ROLLBACK_STOP', start: 'ROLLBACK_START', verify: 'ROLLBACK_VERIFY' },
} as const;

export type SwapKind = keyof typeof STEPS;

/**
 * Reads one swap from a run's events. The verify step's done event carries the typed
 * `first_healthy_at_unix_ms` (agent/upgrade/steps/verify.ts); the last occurrence of each step counts, so a run that
 * was interrupted and resumed is measured on its final attempt.
 */
export function swapTiming(events: readonly BenchStepEvent[], kind: SwapKind): SwapTiming {
  const names = STEPS[kind];
  const last = (step: string, status: string): BenchStepEvent | undefined => {
    for (let i = events.length - 1; i >= 0; i--) {
      const e = events[i];
      if (e && e.step === step && e.status === status) return e;
    }
    return undefined;
  };
  const at = (step: string, status: string): number => {
    const ev = last(step, status);
    if (!ev) throw new BenchDataError(`${kind}: no ${step} ${status} event`);
    const v = Number(ev.atUnixMs);
    if (!Number.isFinite(v) || v <= 0) throw new BenchDataError(`${kind}: ${step} ${status} has no time`);
    return v;
  };
  const verifyDone = last(names.verify, 'STEP_DONE');
  const firstHealthy = Number(verifyDone?.firstHealthyAtUnixMs ?? 0);
  if (!Number.isFinite(firstHealthy) || firstHealthy <= 0) throw new BenchDataError(`${kind}: ${names.verify} done carries no first healthy time`);
  const stopStarted = at(names.stop, 'STEP_STARTED');
  const stopDone = at(names.stop, 'STEP_DONE');
  const startStarted = at(names.start, 'STEP_STARTED');
  const startDone = at(names.start, 'STEP_DONE');
  if (!(stopStarted <= stopDone && stopDone <= startStarted && startStarted <= startDone && startDone <= firstHealthy)) {
    throw new BenchDataError(`${kind}: step times out of order (${stopStarted}, ${stopDone}, ${startStarted}, ${startDone}, ${firstHealthy})`);
  }
  return {
    downtimeMs: firstHealthy - stopStarted,
    stopMs: stopDone - stopStarted,
    swapMs: startStarted - stopDone,
    startMs: startDone - startStarted,
    toHealthyMs: firstHealthy - startDone,
  };
}

/** utime + stime (clock ticks) of a /proc/<pid>/stat line; the comm field may hold spaces and ')'. */
export function cpuTicks(statLine: string): number {
  const close = statLine.lastIndexOf(')');
  if (close < 0) throw new BenchDataError(`not a /proc/<pid>/stat line: ${statLine.slice(0, 80)}`);
  // Fields after "pid (comm)": state is field 3, utime field 14, stime field 15 (proc(5)).
  const rest = statLine.slice(close + 1).trim().split(/\s+/);
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isInteger(utime) || !Number.isInteger(stime)) throw new BenchDataError(`no utime/stime in: ${statLine.slice(0, 120)}`);
  return utime + stime;
}

/** CPU use in % of one core between two stat samples taken `elapsedMs` apart. */
export function cpuPercent(before: string, after: string, elapsedMs: number, ticksPerSecond: number): number {
  if (!(elapsedMs > 0) || !(ticksPerSecond > 0)) throw new BenchDataError('cpuPercent needs a positive interval and tick rate');
  const ticks = cpuTicks(after) - cpuTicks(before);
  if (ticks < 0) throw new BenchDataError('CPU ticks went backwards: not the same process');
  return ((ticks / ticksPerSecond) * 1000 * 100) / elapsedMs;
}

/** VmRSS / VmHWM in KiB from /proc/<pid>/status. */
export function memoryKiB(status: string): { rssKiB: number; hwmKiB: number } {
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(status);
    if (!m?.[1]) throw new BenchDataError(`no ${name} in /proc/<pid>/status`);
    return Number(m[1]);
  };
  return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM') };
}

/** An integer from the environment (a bench knob), `fallback` when unset; at least `min`. */
export function envInt(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min) throw new BenchDataError(`${name}=${raw}: expected an integer >= ${min}`);
  return v;
}

export const ms = (v: number): string => `${Math.round(v)} ms`;

/** Median, p90, min and max of a set of durations in ms, as the benches print them. */
export const figures = (values: readonly number[]): string => `median ${ms(median(values))}, p90 ${ms(percentile(values, 90))}, min ${ms(Math.min(...values))}, max ${ms(Math.max(...values))}`;

/**
 * A python3 script for inside a node: `systemctl restart <unit>` -> `url` answers "ok" (polled
 * every 10 ms), the same path an agent's swap takes minus the agent. Prints ms.
 */
export function restartScript(unit: string, url: string): string {
  return [
    'import subprocess, time, urllib.request',
    't = time.monotonic()',
    `subprocess.run(["systemctl", "restart", "${unit}"], check=True)`,
    'deadline = t + 60',
    'while True:',
    '    try:',
    `        if urllib.request.urlopen("${url}", timeout=1).read() == b"ok":`,
    '            break',
    '    except Exception:',
    '        pass',
    '    if time.monotonic() > deadline:',
    `        raise SystemExit("${unit} not healthy within 60 s")`,
    '    time.sleep(0.01)',
    'print(round((time.monotonic() - t) * 1000))',
  ].join('\n');
}
