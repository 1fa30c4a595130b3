/**
 * Scheduling: 1,000 in-process simulated agents (each node upgrade a timed no-op with jitter) at
 * --max-concurrency 50, through the real engine and the real SQLite journal: total time against
 * the ideal (nodes / concurrency x mean node time), coordinator RSS, store writes per node.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Node } from '@kubernetes/client-node';
import { systemClock } from '../lib/clock.ts';
import { silentLogger } from '../lib/logger.ts';
import { parseJson } from '../lib/knowledge/hash/index.ts';
import type { AgentPort, StepEvent } from '../coordinator/fleet/port.ts';
import type { ClusterApi } from '../coordinator/ports.ts';
import { runEngine } from '../coordinator/rollout/engine.ts';
import type { RunSpec } from '../coordinator/rollout/spec.ts';
import { openSqliteStore } from '../coordinator/store/sqlite.ts';
import type { ClusterLock } from '../coordinator/lock/lock.ts';

const NODES = 1_000;
const CONCURRENCY = 50;
const NODE_MS = 200;
const JITTER_MS = 100;

export async function runCoordinatorBench(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'kip-bench-coord-'));
  try {
    const kubelet = new Map<string, string>();
    const names = Array.from({ length: NODES }, (_, i) => `n${String(i).padStart(4, '0')}`);
    for (const n of names) kubelet.set(n, 'v1.16.15');
    let seed = 42;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let busy = 0;
    const agents = new Map<string, AgentPort>(names.map((node) => [node, {
      getNode: async () => { throw new Error('unused'); }, getRun: async () => { throw new Error('unused'); }, preflight: async () => { throw new Error('unused'); },
      stageBinary: async () => { throw new Error('unused'); }, rollback: async () => { throw new Error('unused'); }, close: () => undefined,
      async *upgradeFollow(req): AsyncGenerator<StepEvent> {
        const ms = NODE_MS + (rand() * 2 - 1) * JITTER_MS;
        busy += ms;
        await systemClock.sleep(ms);
        kubelet.set(node, req.targetVersion ?? '');
        yield { runId: req.runId ?? '', seq: 1, step: 'DONE', status: 'STEP_DONE', message: '', atUnixMs: Date.now(), phase: 'RUN_SUCCEEDED', errorCode: '', journalTail: [], firstHealthyAtUnixMs: 0, mainPid: 0, downtimeMs: 0, skipFileWritten: '', skipped: '' };
      },
    }]));
    const lock: ClusterLock = { where: async () => 'bench', read: async () => undefined, acquire: async () => { throw new Error('unused'); }, renew: async (runId, now) => ({ holder: 'b', runId, acquiredAt: now, renewedAt: now, ttlMs: 60_000 }), release: async () => undefined, forceRelease: async () => undefined };
    const cluster: ClusterApi = {
      server: 'bench', version: async () => 'v1.17.17',
      nodes: async () => names.map((n): V1Node => ({ metadata: { name: n }, status: { nodeInfo: { kubeletVersion: kubelet.get(n) } as NonNullable<V1Node['status']>['nodeInfo'], conditions: [{ type: 'Ready', status: 'True' }] } })),
      pods: async () => [], podTree: async () => parseJson('{"items":[]}', 'pods'), annotateNode: async () => undefined, labelNode: async () => undefined, nodeEvent: async () => undefined, lock,
    };
    const store = openSqliteStore(join(dir, 'runs.db'));
    const spec: RunSpec = {
      target: 'v1.17.17', plan: 'every-step', steps: [{ index: 0, to: 'v1.17.17', nodes: names.map((n, i) => ({ name: n, from: 'v1.16.15', zone: `z${i % 3}` })) }],
      maxConcurrency: CONCURRENCY, maxUnavailable: CONCURRENCY, canary: { count: 0 }, nodeTimeoutMs: 60_000, readyTimeoutMs: 60_000, verifyTimeoutMs: 0, allowUnpatched: false, allowDroppedFlags: [], releasesDir: undefined,
    };
    store.createRun({ id: 'bench', cluster: 'bench', target: spec.target, phase: 'running', reason: '', spec: JSON.stringify(spec), createdAt: Date.now() });
    let peakRss = 0;
    const sampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage().rss); }, 100);
    const t0 = performance.now();
    const outcome = await runEngine('bench', spec, { store, cluster, agents, clock: systemClock, logger: silentLogger(), pollMs: 20 });
    const total = performance.now() - t0;
    clearInterval(sampler);
    const ideal = (NODES / CONCURRENCY) * (busy / NODES);
    const writes = store.actions('bench').length * 2 + NODES * 2 + store.events('bench').length + 2;
    store.close();
    process.stdout.write(`${NODES} simulated agents, --max-concurrency ${CONCURRENCY}, node ${NODE_MS}±${JITTER_MS} ms: ${outcome.phase} in ${(total / 1000).toFixed(2)} s, ideal ${(ideal / 1000).toFixed(2)} s (${((total / ideal - 1) * 100).toFixed(1)} % over)\n`);
    process.stdout.write(`coordinator peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MB; store writes ${(writes / NODES).toFixed(1)} rows in 2 commits per node (action begin+node record; node record+action outcome+event)\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
