/**
 * Prometheus /metrics of the coordinator during `kip upgrade` / `kip resume` (--metrics-listen).
 * The engine is not changed: the run's ports are wrapped on their way in (observe()), and every
 * figure comes from what the engine already does through them:
 *
 *   agents.upgradeFollow -> StepEvents: step durations (STARTED -> DONE/FAILED, agent clock) per
 *                           step and component, the kubelet downtime (typed downtime_ms)
 *   store.begin/finishAction -> journaled coordinator actions and their durations, per kind
 *   store.putNode        -> nodes by state
 *   cluster.pods         -> container restarts seen (new id or higher restartCount) and pods
 *   (or the cache's pod     evicted (status.reason Evicted) or gone, during the run
 *    events, openView)
 *   agent HashReport     -> containers still carrying an old hash, per node, after its upgrade
 *
 * Plain HTTP without authentication: 127.0.0.1 unless a host is given, and only while the run
 * lasts. prom-client is imported only when the option is given.
 */
import { createServer, type Server } from 'node:http';
import type { V1Pod } from '@kubernetes/client-node';
import { InvalidInputError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import type { AgentPort, StepEvent } from '../fleet/port.ts';
import type { ClusterApi } from '../ports.ts';
import type { RunStore } from '../store/store.ts';
import pkg from '../../package.json' with { type: 'json' };

/** What a run is given (the subset the metrics wrap; the rest passes through untouched). */
export interface ObservedDeps {
  readonly store: RunStore;
  readonly cluster: ClusterApi;
  readonly agents: ReadonlyMap<string, AgentPort>;
}

/** An agent that can say how many of its containers still carry an old hash (AgentConnection). */
interface HashReporting {
  hashReport(targetVersion: string): Promise<{ predictedRestarts: readonly string[] }>;
}
const canReportHashes = (a: AgentPort): a is AgentPort & HashReporting => typeof (a as Partial<HashReporting>).hashReport === 'function';

/** `9464`, `:9464` -> 127.0.0.1:9464; `host:port` and `[v6]:port` as given. */
export function parseMetricsListen(text: string): { host: string; port: number } {
  const m = /^(?:(\[[0-9a-fA-F:]+\]|[^\s:[\]]+)?:)?(\d{1,5})$/.exec(text.trim());
  const port = Number(m?.[2]);
  if (!m || port > 65_535) throw new InvalidInputError('CLI_USAGE', `--metrics-listen ${JSON.stringify(text)}: expected PORT, :PORT or HOST:PORT (e.g. 127.0.0.1:9464)`, { value: text });
  return { host: (m[1] ?? '127.0.0.1').replace(/^\[|\]$/g, ''), port };
}

export const METRICS_LISTEN_HELP = 'serve Prometheus /metrics while the run lasts (PORT or :PORT = 127.0.0.1, or HOST:PORT)';

const STEP_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900];

export interface RunMetrics {
  /** The address actually bound (port 0 -> the kernel's choice). */
  readonly url: string;
  observe<D extends ObservedDeps>(deps: D): D;
  /** The text a scrape returns (also used by tests). */
  scrape(): Promise<string>;
  close(): Promise<void>;
}

export async function startRunMetrics(options: { listen: string; runId: string; target: string; logger: Logger }): Promise<RunMetrics> {
  const { host, port } = parseMetricsListen(options.listen);
  const prom = await import('prom-client');
  const registry = new prom.Registry();
  prom.collectDefaultMetrics({ register: registry, prefix: 'kip_coordinator_' });
  const r = [registry];
  new prom.Gauge({ name: 'kip_coordinator_build_info', help: 'kip coordinator build', labelNames: ['version'], registers: r }).set({ version: pkg.version }, 1);
  new prom.Gauge({ name: 'kip_run_info', help: 'the run this coordinator drives (1)', labelNames: ['run_id', 'target'], registers: r }).set({ run_id: options.runId, target: options.target }, 1);
  const stepSeconds = new prom.Histogram({ name: 'kip_upgrade_step_duration_seconds', help: 'agent upgrade steps, STARTED to DONE/FAILED on the agent clock', labelNames: ['step', 'component', 'status'], buckets: STEP_BUCKETS, registers: r });
  const downtime = new prom.Histogram({ name: 'kip_component_downtime_seconds', help: 'downtime of the upgraded component (stop to first healthy), per node upgrade', labelNames: ['component'], buckets: STEP_BUCKETS, registers: r });
  const actionSeconds = new prom.Histogram({ name: 'kip_upgrade_action_duration_seconds', help: 'journaled coordinator actions (e.g. kubelet-upgrade of one node), begin to finish', labelNames: ['action', 'outcome'], buckets: STEP_BUCKETS, registers: r });
  const nodesGauge = new prom.Gauge({ name: 'kip_nodes', help: 'nodes of the run by state', labelNames: ['state'], registers: r });
  const restarts = new prom.Counter({ name: 'kip_container_restarts_seen_total', help: 'containers seen restarting (new container id or higher restartCount) during the run', registers: r });
  const evictions = new prom.Counter({ name: 'kip_pods_evicted_total', help: 'pods seen evicted (status.reason Evicted) or gone during the run', labelNames: ['how'], registers: r });
  const oldHashes = new prom.Gauge({ name: 'kip_containers_old_hash', help: 'containers whose hash label differs from their kubelet version\'s hash (they would restart without the skip file), per node after its upgrade', labelNames: ['node'], registers: r });
  for (const state of ['pending', 'upgrading', 'succeeded', 'failed']) nodesGauge.set({ state }, 0);
  restarts.inc(0);
  for (const how of ['evicted', 'gone']) evictions.inc({ how }, 0);

  const nodeState = new Map<string, string>();
  const setNodes = (): void => {
    const counts = new Map<string, number>();
    for (const s of nodeState.values()) counts.set(s, (counts.get(s) ?? 0) + 1);
    nodesGauge.reset();
    for (const state of new Set(['pending', 'upgrading', 'succeeded', 'failed', ...counts.keys()])) nodesGauge.set({ state }, counts.get(state) ?? 0);
  };

  const seen = new Map<string, { id: string; restartCount: number }>();
  const podsSeen = new Map<string, boolean>();
  const podKey = (p: V1Pod): string => `${p.metadata?.namespace ?? 'default'}/${p.metadata?.name ?? ''}`;
  const observePod = (p: V1Pod): void => {
    const key = podKey(p);
    const evicted = p.status?.reason === 'Evicted';
    if (evicted && podsSeen.get(key) !== true) evictions.inc({ how: 'evicted' });
    podsSeen.set(key, evicted);
    for (const c of p.status?.containerStatuses ?? []) {
      const ck = `${key}/${c.name}`;
      const before = seen.get(ck);
      const now = { id: c.containerID ?? '', restartCount: c.restartCount ?? 0 };
      if (before && (now.restartCount > before.restartCount || (now.id !== '' && before.id !== '' && now.id !== before.id))) restarts.inc(Math.max(1, now.restartCount - before.restartCount));
      seen.set(ck, now);
    }
  };
  const podGone = (key: string): void => {
    if (!podsSeen.has(key)) return;
    if (podsSeen.get(key) !== true) evictions.inc({ how: 'gone' });
    podsSeen.delete(key);
  };
  const observePods = (pods: readonly V1Pod[]): void => {
    const present = new Set<string>();
    for (const p of pods) {
      present.add(podKey(p));
      observePod(p);
    }
    for (const key of [...podsSeen.keys()]) if (!present.has(key)) podGone(key);
  };

  const observeAgent = (node: string, agent: AgentPort): AgentPort => {
    const wrapped: AgentPort = Object.create(agent) as AgentPort;
    wrapped.upgradeFollow = async function* (req) {
      const component = req.component || 'kubelet';
      const started = new Map<string, number>();
      let ok = false;
      for await (const e of agent.upgradeFollow(req)) {
        observeStep(e, component, started);
        if (e.downtimeMs > 0) downtime.observe({ component }, e.downtimeMs / 1000);
        if (e.phase === 'RUN_SUCCEEDED') ok = true;
        yield e;
      }
      if (ok && req.targetVersion && canReportHashes(agent)) {
        agent.hashReport(req.targetVersion).then((h) => oldHashes.set({ node }, h.predictedRestarts.length), (err: unknown) => options.logger.debug({ err, node }, 'no hash report for the old-hash metric'));
      }
    };
    return wrapped;
  };
  const observeStep = (e: StepEvent, component: string, started: Map<string, number>): void => {
    if (e.status === 'STEP_STARTED') started.set(e.step, Number(e.atUnixMs));
    else if (e.status === 'STEP_DONE' || e.status === 'STEP_FAILED') {
      const t0 = started.get(e.step);
      if (t0 !== undefined) stepSeconds.observe({ step: e.step, component, status: e.status === 'STEP_DONE' ? 'done' : 'failed' }, Math.max(0, Number(e.atUnixMs) - t0) / 1000);
      started.delete(e.step);
    }
  };

  const observeStore = (store: RunStore): RunStore => {
    const begun = new Map<number, { kind: string; at: number }>();
    const wrapped: RunStore = Object.create(store) as RunStore;
    wrapped.beginAction = (a) => {
      const id = store.beginAction(a);
      begun.set(id, { kind: a.kind, at: a.at });
      return id;
    };
    wrapped.finishAction = (id, outcome, result, at) => {
      store.finishAction(id, outcome, result, at);
      const b = begun.get(id);
      if (b) actionSeconds.observe({ action: b.kind, outcome }, Math.max(0, at - b.at) / 1000);
      begun.delete(id);
    };
    wrapped.putNode = (n) => {
      store.putNode(n);
      nodeState.set(`${n.step}/${n.node}`, n.phase);
      setNodes();
    };
    wrapped.nodes = (runId) => {
      const list = store.nodes(runId);
      for (const n of list) nodeState.set(`${n.step}/${n.node}`, n.phase);
      setNodes();
      return list;
    };
    return wrapped;
  };

  const observeCluster = (cluster: ClusterApi): ClusterApi => {
    const wrapped: ClusterApi = Object.create(cluster) as ClusterApi;
    wrapped.pods = async () => {
      const pods = await cluster.pods();
      observePods(pods);
      return pods;
    };
    // The engine's Node/Pod cache: every pod change as its watch event brings it.
    const openView = cluster.openView?.bind(cluster);
    if (openView) {
      wrapped.openView = async () => {
        const view = await openView();
        view.onPodChange((pod, deleted) => (deleted ? podGone(podKey(pod)) : observePod(pod)));
        return view;
      };
    }
    return wrapped;
  };

  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404).end('only GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500).end(`${err instanceof Error ? err.message : String(err)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new InvalidInputError('METRICS_LISTEN_FAILED', `--metrics-listen ${options.listen}: ${err.message}`, { listen: options.listen }, { cause: err })));
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${bound}/metrics`;
  options.logger.info({ url }, 'coordinator metrics');
  return {
    url,
    observe<D extends ObservedDeps>(deps: D): D {
      return { ...deps, store: observeStore(deps.store), cluster: observeCluster(deps.cluster), agents: new Map([...deps.agents].map(([n, a]) => [n, observeAgent(n, a)])) };
    },
    scrape: () => registry.metrics(),
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** Runs `body` with the run's ports observed and /metrics served while it runs; nothing when `listen` is absent. */
export async function withRunMetrics<D extends ObservedDeps, T>(
  listen: string | undefined,
  run: { runId: string; target: string; logger: Logger; announce: (line: string) => void },
  deps: D,
  body: (deps: D) => Promise<T>,
): Promise<T> {
  if (listen === undefined) return body(deps);
  const metrics = await startRunMetrics({ listen, runId: run.runId, target: run.target, logger: run.logger });
  run.announce(`metrics: ${metrics.url}`);
  try {
    return await body(metrics.observe(deps));
  } finally {
    await metrics.close();
  }
}
