/** A run over the file-backed fake world: used by the engine tests and the kill -9 child. */
import { join } from 'node:path';
import { systemClock } from '../../lib/clock.ts';
import { silentLogger } from '../../lib/logger.ts';
import type { AgentPort } from '../../coordinator/fleet/port.ts';
import { runEngine, type RunOutcome } from '../../coordinator/rollout/engine.ts';
import type { RunSpec } from '../../coordinator/rollout/spec.ts';
import { openSqliteStore } from '../../coordinator/store/sqlite.ts';
import type { RunStore } from '../../coordinator/store/store.ts';
import { fakeAgent, fakeWorldCluster, WorldFile, type World } from './engine-fakes.ts';

export const RUN_ID = 'run-1';

export function makeWorld(dir: string, nodes: number, extra: Partial<World> = {}): WorldFile {
  const world = new WorldFile(join(dir, 'world.json'));
  world.write({
    nodes: Array.from({ length: nodes }, (_, i) => ({ name: `w${String(i + 1).padStart(2, '0')}`, kubelet: 'v1.16.15', zone: ['z-a', 'z-b', 'z-c'][i % 3]! })),
    executions: [], restartedContainers: [], failNodes: [], restartNodes: [], durationMs: 40, ...extra,
  });
  return world;
}

export function specFor(world: WorldFile, options: Partial<RunSpec> = {}): RunSpec {
  const w = world.read();
  return {
    target: 'v1.17.17', plan: 'every-step',
    steps: [{ index: 0, to: 'v1.17.17', nodes: w.nodes.map((n) => ({ name: n.name, from: n.kubelet, zone: n.zone })) }],
    maxConcurrency: 2, maxUnavailable: 3, canary: { count: 1 }, nodeTimeoutMs: 30_000, readyTimeoutMs: 10_000, verifyTimeoutMs: 0,
    allowUnpatched: false, allowDroppedFlags: [], releasesDir: undefined, ...options,
  };
}

export function openStore(dir: string): RunStore {
  return openSqliteStore(join(dir, 'runs.db'));
}

export function createRun(store: RunStore, spec: RunSpec): void {
  store.createRun({ id: RUN_ID, cluster: 'https://fake', target: spec.target, phase: 'running', reason: '', spec: JSON.stringify(spec), createdAt: Date.now() });
}

export async function engineOver(world: WorldFile, store: RunStore, spec: RunSpec, options: { signal?: AbortSignal; progress?: (l: string) => void; pollMs?: number } = {}): Promise<{ outcome: RunOutcome; agents: Map<string, AgentPort & { calls: string[] }>; marks: string[] }> {
  const cluster = fakeWorldCluster(world, () => Date.now());
  await cluster.lock.acquire('test', RUN_ID, 60_000, Date.now());
  const agents = new Map(world.read().nodes.map((n) => [n.name, fakeAgent(world, n.name, () => Date.now(), (ms) => systemClock.sleep(ms))]));
  const outcome = await runEngine(RUN_ID, spec, {
    store, cluster, agents, clock: systemClock, logger: silentLogger(), pollMs: options.pollMs ?? 5, ...(options.signal ? { signal: options.signal } : {}), ...(options.progress ? { progress: options.progress } : {}),
  });
  return { outcome, agents, marks: cluster.marks };
}

/** The largest number of executions whose [start, end) intervals overlap. */
export function maxOverlap(world: World): number {
  const points = world.executions.flatMap((e) => [[e.startedAt, 1], [e.startedAt + e.durationMs, -1]] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cur = 0;
  let max = 0;
  for (const [, d] of points) {
    cur += d;
    max = Math.max(max, cur);
  }
  return max;
}
