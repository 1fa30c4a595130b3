/**
 * `npm run demo` (after scripts/demo.sh has brought the lab up): composition root of the demo.
 *   tsx scripts/demo/main.ts [--unpatched] [--to v1.17.17] [--state-dir DIR] [--no-fix]
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { execaExec } from '../../lib/exec.ts';
import { createLogger } from '../../lib/logger.ts';
import { isKipError } from '../../lib/errors.ts';
import { AgentConnection } from '../../coordinator/fleet/client.ts';
import { KubeClient } from '../../lib/kube/index.ts';
import { kubeRestFromKubeconfig } from '../../lib/kube/raw.ts';
import { createCriClient } from '../../agent/runtime/cri.ts';
import { DEFAULT_STATE_DIR, readLabState } from '../lab/lab.ts';
import { AGENT_PORT, KUBELET_HEALTHZ_PORT } from '../lab/node-config.ts';
import { readSyncReport } from '../lab/kubelet/sync-report.ts';
import { systemClock } from '../../lib/clock.ts';
import { startControllers, stopControllers, upgradeApiserver } from '../lab/control-plane.ts';
import { formatDemoReport, runDemo, type DemoAgent } from './demo.ts';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      unpatched: { type: 'boolean', default: false },
      to: { type: 'string', default: 'v1.17.17' },
      'state-dir': { type: 'string', default: process.env.KIP_LAB_DIR ?? DEFAULT_STATE_DIR },
      'no-fix': { type: 'boolean', default: false },
    },
  });
  const stateDir = values['state-dir'];
  const state = await readLabState(stateDir);
  if (!state || state.status !== 'up') {
    process.stderr.write(`kip demo: no lab is up in ${stateDir} (status: ${state?.status ?? 'none'}): run kip-lab up first\n`);
    return 2;
  }
  if (!state.kubeconfig || !state.agentPki) {
    process.stderr.write(`kip demo: ${stateDir}/lab.json lacks the kubeconfig or the agent PKI: bring the lab down and up again\n`);
    return 2;
  }
  const logger = createLogger({ name: 'kip-demo', level: process.env.KIP_LOG_LEVEL ?? 'warn', destination: process.stderr });
  const tls = { ca: await readFile(state.agentPki.ca), cert: await readFile(state.agentPki.cert), key: await readFile(state.agentPki.key) };
  const workers = state.nodes.filter((n) => n.role === 'worker');
  const connections = new Map(workers.map((n) => [n.name, new AgentConnection({ address: `${n.address}:${AGENT_PORT}`, tls })]));
  const runtimes = new Map(workers.filter((n) => n.containerd).map((n) => [n.name, createCriClient({ address: `unix://${n.containerd!.socket}` })]));
  const agents = new Map<string, DemoAgent>([...connections].map(([name, c]) => [name, {
    stageBinary: (meta, data) => c.stageBinary(meta, data),
    upgradeFollow: (req) => c.upgradeFollow(req),
    getNode: () => c.getNode(),
  }]));
  try {
    const report = await runDemo(
      { target: values.to, patched: !values.unpatched, fixSelectors: !values['no-fix'] },
      {
        state,
        kube: KubeClient.fromFile(state.kubeconfig),
        rest: await kubeRestFromKubeconfig(state.kubeconfig),
        agents,
        runtimes,
        controlPlane: {
          stopControllers: () => stopControllers(state, execaExec),
          upgradeApiserver: (v, dts) => upgradeApiserver(state, execaExec, v, dts),
          startControllers: (v) => startControllers(state, execaExec, v),
        },
        exec: execaExec,
        logger,
        out: (line) => process.stdout.write(`${line}\n`),
        clock: systemClock,
        kubeletSyncs: (node) => readSyncReport(workers.find((n) => n.name === node)?.address ?? '', KUBELET_HEALTHZ_PORT),
      },
    );
    const path = join(stateDir, 'demo-report.json');
    await writeFile(path, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`\n${formatDemoReport(report)}\nreport: ${path}\nthe lab stays up: kubectl --kubeconfig ${state.kubeconfig} get pods -A; take it down with: npm exec -- kip-lab down\n`);
    return report.outcome === 'completed' ? 0 : 1;
  } finally {
    for (const c of connections.values()) c.close();
    for (const r of runtimes.values()) r.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`kip demo failed: ${isKipError(err) ? `${err.message} [${err.code}]` : err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  },
);
