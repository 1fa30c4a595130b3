/**
 * Prometheus /metrics for kip-agent (prom-client), on its own address (config metricsListen).
 * OFF by default: it is plain HTTP without authentication (the gRPC port is mutual TLS) and
 * prom-client costs the agent about 11 MiB of RSS (scripts/package/README.md), so it is loaded
 * only when enabled. Bind it to 127.0.0.1 and scrape through the node's own Prometheus agent or
 * an authenticating proxy. Values are read at scrape time from the agent's own view (GetNode).
 */
import { createServer, type Server } from 'node:http';
import type { Logger } from '../lib/logger.ts';
import type { NodeInfo } from './upgrade/types.ts';

export interface MetricsSource {
  nodeInfo(): Promise<NodeInfo>;
  /** Unix ms when the served TLS certificate expires. */
  certNotAfterMs(): number;
  readonly agentVersion: string;
}

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startMetricsServer(options: { listen: string; source: MetricsSource; logger: Logger }): Promise<MetricsServer> {
  const prom = await import('prom-client');
  const registry = new prom.Registry();
  prom.collectDefaultMetrics({ register: registry, prefix: 'kip_agent_' });
  const src = options.source;
  let snapshot: NodeInfo | undefined;
  new prom.Gauge({ name: 'kip_agent_build_info', help: 'kip-agent build', labelNames: ['version'], registers: [registry] }).set({ version: src.agentVersion }, 1);
  new prom.Gauge({
    name: 'kip_agent_tls_cert_not_after_seconds',
    help: 'expiry of the agent server certificate (unix seconds)',
    registers: [registry],
    collect() {
      this.set(Math.floor(src.certNotAfterMs() / 1000));
    },
  });
  const fromNode = (name: string, help: string, value: (n: NodeInfo) => number, labelNames: string[] = [], labels: (n: NodeInfo) => Record<string, string> = () => ({})) =>
    new prom.Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        if (snapshot) this.set(labels(snapshot), value(snapshot));
      },
    });
  fromNode('kip_agent_kubelet_info', 'the installed kubelet (1)', () => 1, ['version', 'active_state'], (n) => ({ version: n.kubeletVersion, active_state: n.unit.activeState }));
  fromNode('kip_agent_skip_file_present', 'the skip file is on the node (1) or not (0)', (n) => (n.skipFile.present ? 1 : 0));
  fromNode('kip_agent_staged_binaries', 'kubelet binaries staged', (n) => n.staged.length);
  fromNode('kip_agent_last_run_info', 'phase of the current or last run (1)', () => 1, ['run_id', 'phase'], (n) => ({ run_id: n.lastRunId, phase: n.lastRunPhase || 'none' }));
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404).end('only GET /metrics\n');
      return;
    }
    void (async () => {
      try {
        snapshot = await src.nodeInfo();
      } catch (err) {
        options.logger.warn({ err }, 'metrics: node view failed; node gauges are empty');
        snapshot = undefined;
      }
      res.writeHead(200, { 'content-type': registry.contentType }).end(await registry.metrics());
    })().catch((err: unknown) => res.writeHead(500).end(String(err)));
  });
  const sep = options.listen.lastIndexOf(':');
  const host = options.listen.slice(0, sep).replace(/^\[|\]$/g, '');
  const port = Number(options.listen.slice(sep + 1));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  options.logger.info({ address: options.listen, port: bound }, 'metrics listening (plain HTTP)');
  return { port: bound, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
