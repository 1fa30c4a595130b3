/**
 * Scheduling (issue 10, "Numbers"): 1,000 in-process simulated agents (each node upgrade a timed
 * no-op with jitter) at --max-concurrency 50, through the real engine and the real SQLite journal
 * (WAL, synchronous=NORMAL, on disk): total time against the ideal (nodes / concurrency x mean node
 * time), and against a baseline run side by side in the same process: a bare 50-wide semaphore
 * over the same simulated agents (no scheduler, no journal, no cluster), which shows what timer
 * slack the machine adds by itself. Coordinator RSS (peak, and above the process before the run),
 * and store writes (rows and durable commits) per node, counted at the store port. Per node: how
 * long its slot was held (start line -> the simulated agent run over) and how late its timer fired
 * (CPU starvation of a loaded machine shows there first), beside the baseline's lateness. Note the
 * ideal ignores the tail: list scheduling of these jittered times at 50 wide is 4.4 % over it even
 * with zero overhead (the last nodes end unevenly), so the goal leaves ~0.6 % for the engine.
 *
 * The fake cluster answers like an informer cache: the same node objects each time, the kubelet
 * version updated in place, so the engine's own cost is measured, not the fake's allocations.
 * The machine is shared: under load the engine's CPU per node (printed) turns into timer lateness,
 * which the baseline, doing almost nothing per node, does not see; rerun when the load average is high.
 * Environment: KIP_BENCH_COORD_NODES (1000), KIP_BENCH_COORD_NODE_MS (200), KIP_BENCH_COORD_POLL_MS (20).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { V1Node } from '@kubernetes/client-node';
import { systemClock } from '../lib/clock.ts';
import { silentLogger } from '../lib/logger.ts';
import { parseJson } from '../lib/knowledge/hash/index.ts';
import type { AgentPort, StepEvent } from '../coordinator/fleet/port.ts';
import type { ClusterApi } from '../coordinator/ports.ts';
import { runEngine } from '../coordinator/rollout/engine.ts';
import type { RunSpec } from '../coordinator/rollout/spec.ts';
import { openSqliteStore } from '../coordinator/store/sqlite.ts';
import type { RunStore } from '../coordinator/store/store.ts';
import type { ClusterLock } from '../coordinator/lock/lock.ts';

const NODES = Number(process.env.KIP_BENCH_COORD_NODES ?? 1_000);
const CONCURRENCY = 50;
const NODE_MS = Number(process.env.KIP_BENCH_COORD_NODE_MS ?? 200);
const JITTER_MS = NODE_MS / 2;
const POLL_MS = Number(process.env.KIP_BENCH_COORD_POLL_MS ?? 20);
const MB = 2 ** 20;

/** Deterministic jittered node times, the same list for the engine run and the baseline. */
function nodeTimes(n: number): number[] {
  let seed = 42;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  return Array.from({ length: n }, () => NODE_MS + (rand() * 2 - 1) * JITTER_MS);
}

/** Counts rows written and durable commits at the store port (a write outside batch() is its own commit). */
function counting(store: RunStore): { store: RunStore; rows: () => number; commits: () => number } {
  let rows = 0;
  let commits = 0;
  let depth = 0;
  const w = <A extends unknown[], R>(fn: (...a: A) => R) => (...a: A): R => {
    rows++;
    if (depth === 0) commits++;
    return fn(...a);
  };
  return {
    rows: () => rows,
    commits: () => commits,
    store: {
      ...store,
      createRun: w(store.createRun), setRunPhase: w(store.setRunPhase), putNode: w(store.putNode), beginAction: w(store.beginAction),
      finishAction: w(store.finishAction), addEvent: w(store.addEvent),
      batch: (fn) => {
        if (depth === 0) commits++;
        depth++;
        try {
          return store.batch(fn);
        } finally {
          depth--;
        }
      },
    },
  };
}

/** The baseline: the same node times through a bare semaphore of CONCURRENCY slots. */
async function bareSemaphore(times: readonly number[]): Promise<{ ms: number; lateMs: number }> {
  const t0 = performance.now();
  let next = 0;
  let lateMs = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < times.length) {
      const want = times[next++]!;
      const at = performance.now();
      await systemClock.sleep(want);
      lateMs += performance.now() - at - want;
    }
  }));
  return { ms: performance.now() - t0, lateMs };
}

export async function runCoordinatorBench(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'kip-bench-coord-'));
  try {
    const times = nodeTimes(NODES);
    const busy = times.reduce((a, b) => a + b, 0);
    const names = Array.from({ length: NODES }, (_, i) => `n${String(i).padStart(4, '0')}`);
    const nodeObjects = names.map((n): V1Node => ({ metadata: { name: n }, status: { nodeInfo: { kubeletVersion: 'v1.16.15' } as NonNullable<V1Node['status']>['nodeInfo'], conditions: [{ type: 'Ready', status: 'True' }] } }));
    const byName = new Map(nodeObjects.map((n) => [n.metadata!.name!, n]));
    const timeOf = new Map(names.map((n, i) => [n, times[i]!]));
    // Per node: when its agent run ended (the slot is free from there) and how late its timer fired.
    const agentEndedAt = new Map<string, number>();
    let agentLateMs = 0;
    const stub = async (): Promise<never> => { throw new Error('unused by the engine'); };
    const agents = new Map<string, AgentPort>(names.map((node) => [node, {
      getNode: stub, getRun: stub, preflight: stub, stageBinary: stub, rollback: stub, close: () => undefined,
      hold: stub, release: stub, etcdSnapshot: stub, fetchSnapshot: () => { throw new Error('unused by the engine'); }, watch: () => { throw new Error('unused by the engine'); },
      async *upgradeFollow(req): AsyncGenerator<StepEvent> {
        const want = timeOf.get(node)!;
        const at = performance.now();
        await systemClock.sleep(want);
        agentEndedAt.set(node, performance.now());
        agentLateMs += performance.now() - at - want;
        byName.get(node)!.status!.nodeInfo!.kubeletVersion = req.targetVersion ?? '';
        yield { runId: req.runId ?? '', seq: 1, step: 'DONE', status: 'STEP_DONE', message: '', atUnixMs: Date.now(), phase: 'RUN_SUCCEEDED', errorCode: '', journalTail: [], firstHealthyAtUnixMs: 0, mainPid: 0, downtimeMs: 0, skipFileWritten: '', skipped: '' };
      },
    }]));
    const lock: ClusterLock = { where: async () => 'bench', read: async () => undefined, acquire: stub, renew: async (runId, now) => ({ holder: 'b', runId, acquiredAt: now, renewedAt: now, ttlMs: 60_000 }), release: async () => undefined, forceRelease: async () => undefined };
    const cluster: ClusterApi = {
      server: 'bench', version: async () => 'v1.17.17', nodes: async () => nodeObjects,
      pods: async () => [], podTree: async () => parseJson('{"items":[]}', 'pods'), annotateNode: async () => undefined, labelNode: async () => undefined, nodeEvent: async () => undefined, lock,
      annotatePod: async () => undefined, apiserverStatus: async () => ({ ready: true, version: 'v1.17.17' }),
    };
    const counted = counting(openSqliteStore(join(dir, 'runs.db')));
    const store = counted.store;
    const spec: RunSpec = {
      target: 'v1.17.17', plan: 'every-step', steps: [{ index: 0, to: 'v1.17.17', nodes: names.map((n, i) => ({ name: n, from: 'v1.16.15', zone: `z${i % 3}` })) }],
      maxConcurrency: CONCURRENCY, maxUnavailable: CONCURRENCY, canary: { count: 0 }, nodeTimeoutMs: 60_000, readyTimeoutMs: 60_000, verifyTimeoutMs: 0, allowUnpatched: false, allowDroppedFlags: [], releasesDir: undefined,
    };
    store.createRun({ id: 'bench', cluster: 'bench', target: spec.target, phase: 'running', reason: '', spec: JSON.stringify(spec), createdAt: Date.now() });

    const cpuB = process.cpuUsage();
    const { ms: baselineMs, lateMs: baseLateMs } = await bareSemaphore(times);
    const baseCpu = process.cpuUsage(cpuB);

    // In flight per node: from its start line to its outcome line (the engine's progress callback).
    const startedAt = new Map<string, number>();
    let inFlightMs = 0;
    const progress = (line: string): void => {
      const node = line.slice(0, line.indexOf(':'));
      const at = startedAt.get(node);
      if (at === undefined) startedAt.set(node, performance.now());
      else inFlightMs += performance.now() - at;
    };
    const rss0 = process.memoryUsage().rss;
    let peakRss = rss0;
    const sampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage.rss()); }, 50);
    const lag = monitorEventLoopDelay({ resolution: 5 });
    lag.enable();
    const commits0 = counted.commits();
    const rows0 = counted.rows();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const outcome = await runEngine('bench', spec, { store, cluster, agents, clock: systemClock, logger: silentLogger(), pollMs: POLL_MS, progress });
    const total = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    lag.disable();
    clearInterval(sampler);
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    store.close();
    const ideal = (NODES / CONCURRENCY) * (busy / NODES);
    const pct = (v: number, of: number): string => `${((v / of - 1) * 100).toFixed(1)} %`;
    const out = (s: string): boolean => process.stdout.write(`${s}\n`);
    out(`${NODES} simulated agents, --max-concurrency ${CONCURRENCY}, node ${NODE_MS}±${JITTER_MS} ms, engine poll ${POLL_MS} ms: ${outcome.phase} in ${(total / 1000).toFixed(2)} s | ideal ${(ideal / 1000).toFixed(2)} s: ${pct(total, ideal)} over (goal within 5 %)`);
    out(`baseline, same run: bare ${CONCURRENCY}-slot semaphore over the same node times ${(baselineMs / 1000).toFixed(2)} s (${pct(baselineMs, ideal)} over ideal) | engine / baseline ${(total / baselineMs).toFixed(3)}x`);
    let slotMs = 0;
    for (const [n, end] of agentEndedAt) slotMs += end - (startedAt.get(n) ?? end);
    out(`per node: slot held ${(slotMs / NODES).toFixed(1)} ms (start -> agent run over, ${(agentLateMs / NODES).toFixed(1)} ms of it timer lateness; baseline ${(baseLateMs / NODES).toFixed(1)} ms late) | slot free -> next start and the rest: engine ${((total - baselineMs) / 1000).toFixed(2)} s behind the baseline`);
    out(`per node in flight ${(inFlightMs / NODES).toFixed(1)} ms against ${(busy / NODES).toFixed(1)} ms simulated | window filled ${((inFlightMs / (total * CONCURRENCY)) * 100).toFixed(1)} % | CPU ${((cpu.user + cpu.system) / 1000 / NODES).toFixed(2)} ms per node (baseline ${((baseCpu.user + baseCpu.system) / 1000 / NODES).toFixed(2)}) | event-loop delay mean ${(lag.mean / 1e6).toFixed(1)} ms, p99 ${(lag.percentile(99) / 1e6).toFixed(1)} ms`);
    out(`coordinator RSS peak ${(peakRss / MB).toFixed(0)} MB (goal under 200 MB; ${(rss0 / MB).toFixed(0)} MB before the run, +${((peakRss - rss0) / MB).toFixed(0)} MB) | store ${((counted.rows() - rows0) / NODES).toFixed(1)} rows in ${((counted.commits() - commits0) / NODES).toFixed(2)} durable commits per node`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
