/**
 * Host-side process figures for the benches that run the agent as a plain process: RSS and CPU of
 * a process and its descendants (tsx's esbuild service counts against the checkout), from /proc,
 * and the time to the sd_notify READY=1 datagram through a private $NOTIFY_SOCKET (a python3
 * AF_UNIX datagram listener: Node has no unix datagram sockets).
 */
import { readFile, readdir } from 'node:fs/promises';
import { execa, type ResultPromise } from 'execa';
import { cpuTicks } from './agent-stats.ts';

const TCK = 100; // USER_HZ on Linux (getconf CLK_TCK), fixed by the kernel ABI

async function tree(root: number): Promise<number[]> {
  const parent = new Map<number, number>();
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const stat = await readFile(`/proc/${e}/stat`, 'utf8').catch(() => '');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest[1]) parent.set(Number(e), Number(rest[1]));
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [p, pp] of parent) if (pp === out[i]) out.push(p);
  return out;
}

async function sample(pids: readonly number[]): Promise<{ ticks: number; rssKiB: number }> {
  let ticks = 0;
  let rssKiB = 0;
  for (const p of pids) {
    const stat = await readFile(`/proc/${p}/stat`, 'utf8').catch(() => undefined);
    const status = await readFile(`/proc/${p}/status`, 'utf8').catch(() => undefined);
    if (stat === undefined || status === undefined) continue;
    ticks += cpuTicks(stat);
    rssKiB += Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0);
  }
  return { ticks, rssKiB };
}

export interface IdleFigures {
  readonly rssMiB: number;
  readonly mainRssMiB: number;
  /** Proportional set size of the main process (/proc/<pid>/smaps_rollup): shared pages split. */
  readonly mainPssMiB: number;
  readonly cpuPct: number;
  readonly processes: number;
  readonly seconds: number;
}

/** RSS (sum over the tree, and of the main process) and CPU in % of one core over `seconds`. */
export async function idleOf(pid: number, seconds: number): Promise<IdleFigures> {
  const pids = await tree(pid);
  const a = await sample(pids);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const b = await sample(pids);
  const elapsed = (performance.now() - t0) / 1000;
  const main = await sample([pid]);
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '');
  const pssKiB = Number(/^Pss:\s+(\d+) kB$/m.exec(rollup)?.[1] ?? 0);
  return { rssMiB: b.rssKiB / 1024, mainRssMiB: main.rssKiB / 1024, mainPssMiB: pssKiB / 1024, cpuPct: ((b.ticks - a.ticks) / TCK / elapsed) * 100, processes: pids.length, seconds: elapsed };
}

const LISTENER = [
  'import socket, sys, time',
  's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
  's.bind(sys.argv[1])',
  'print("listening", flush=True)',
  'while True:',
  '    data = s.recv(65536)',
  '    if b"READY=1" in data.split(b"\\n"):',
  '        print(time.clock_gettime_ns(time.CLOCK_MONOTONIC), flush=True)',
  '        break',
].join('\n');

/** A NOTIFY_SOCKET at `path`; `ready()` resolves with CLOCK_MONOTONIC ms of the READY=1 datagram. */
export async function notifyListener(path: string): Promise<{ ready: Promise<number>; close: () => Promise<void> }> {
  const p: ResultPromise = execa('python3', ['-c', LISTENER, path], { reject: false, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let listening: () => void = () => undefined;
  const up = new Promise<void>((r) => { listening = r; });
  const ready = new Promise<number>((resolve, reject) => {
    p.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.startsWith('listening')) listening();
      const m = /listening\n(\d+)\n/.exec(out);
      if (m?.[1]) resolve(Number(BigInt(m[1]) / 1000n) / 1000);
    });
    void p.then((r) => reject(new Error(`notify listener ended before READY=1: ${String(r.stderr)}`)));
  });
  ready.catch(() => undefined);
  await up;
  return { ready, close: async () => { p.kill('SIGKILL'); await p; } };
}

/** CLOCK_MONOTONIC now, in ms, on the same clock as the listener's stamps. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint() / 1000n) / 1000;
}
