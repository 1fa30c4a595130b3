/**
 * The demo's collaborators for a lab that is up, wired once for `npm run demo` (main.ts) and for
 * the headline e2e test, so both drive exactly the same code: agents over mutual TLS, the
 * workers' runtimes, the control-plane node's agent, the lab's releases folder, the kubelets'
 * sync reports.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../lib/logger.ts';
import { systemClock } from '../../lib/clock.ts';
import { InvalidInputError } from '../../lib/errors.ts';
import { execaExec } from '../../lib/exec.ts';
import { AgentConnection } from '../../coordinator/fleet/client.ts';
import { KubeClient } from '../../lib/kube/index.ts';
import { kubeRestFromKubeconfig } from '../../lib/kube/raw.ts';
import { openNodeRuntime } from '../lab/node-runtime.ts';
import type { LabState } from '../lab/lab.ts';
import { AGENT_PORT, KUBELET_HEALTHZ_PORT, KUBELET_PATHS } from '../lab/node-config.ts';
import { readSyncReport } from '../lab/kubelet/sync-report.ts';
import { DemoError, type DemoAgent, type DemoDeps } from './demo.ts';
import type { CliDemoDeps } from './cli-demo.ts';
import { loadHashVectors, vectorHasher } from '../lab/kubelet/hashes.ts';
import { parseJson } from '../../lib/knowledge/hash/index.ts';
import { ORACLE_STATIC_POD_FILE } from '../lab/workloads-oracle.ts';

const REPO = join(import.meta.dirname, '..', '..');

/** The CLI demo's collaborators: the kip CLI as a program, and the observers (runtimes, oracle, kubelet syncs). */
export async function wireCliDemo(state: LabState, out: (line: string) => void): Promise<{ deps: CliDemoDeps; close(): void }> {
  if (!state.kubeconfig) throw new DemoError(`${state.stateDir}/lab.json names no kubeconfig: bring the lab down and up again`);
  const workers = state.nodes.filter((n) => n.role === 'worker');
  const runtimes = workers.filter((n) => n.containerd || n.dockerd).map((n) => ({ node: n.name, reader: openNodeRuntime(n, 30_000) }));
  const deps: CliDemoDeps = {
    state,
    kip: [process.execPath, join(REPO, 'bin', 'kip.mjs')],
    exec: execaExec,
    clock: systemClock,
    out,
    kube: KubeClient.fromFile(state.kubeconfig),
    rest: await kubeRestFromKubeconfig(state.kubeconfig),
    runtimes: runtimes.map((r) => ({ node: r.node, listContainers: () => r.reader.listContainers() })),
    hasher: vectorHasher(loadHashVectors()),
    staticPods: new Map(await Promise.all(workers.filter((n) => n.root).map(async (n) => [n.name, parseJson(await readFile(join(n.root!, KUBELET_PATHS.manifests, ORACLE_STATIC_POD_FILE), 'utf8').catch(() => 'null'), n.name)] as const))),
    kubeletSyncs: (node) => readSyncReport(workers.find((n) => n.name === node)?.address ?? '', KUBELET_HEALTHZ_PORT),
  };
  return { deps, close: () => { for (const r of runtimes) r.reader.close(); } };
}

export interface WiredDemo {
  readonly deps: DemoDeps;
  close(): void;
}

export async function wireDemo(state: LabState, logger: Logger, out: (line: string) => void): Promise<WiredDemo> {
  if (!state.kubeconfig || !state.agentPki) throw new DemoError(`${state.stateDir}/lab.json lacks the kubeconfig or the agent PKI: bring the lab down and up again`);
  const tls = { ca: await readFile(state.agentPki.ca), cert: await readFile(state.agentPki.cert), key: await readFile(state.agentPki.key) };
  const workers = state.nodes.filter((n) => n.role === 'worker');
  const connections = new Map(workers.map((n) => [n.name, new AgentConnection({ address: `${n.address}:${AGENT_PORT}`, tls })]));
  // containerd workers over CRI, Docker workers through dockerd with dockershim's labels
  const runtimes = new Map(workers.filter((n) => n.containerd || n.dockerd).map((n) => [n.name, openNodeRuntime(n, 30_000)]));
  const cpNode = state.nodes.find((n) => n.role === 'control-plane');
  if (!cpNode?.agent || !state.kip?.releases) throw new DemoError(`${state.stateDir}/lab.json names no control-plane agent or releases folder: bring the lab down and up again`);
  const releases = state.kip.releases;
  const cp = new AgentConnection({ address: cpNode.agent, tls });
  connections.set(cpNode.name, cp);
  const agents = new Map<string, DemoAgent>([...connections].filter(([name]) => name !== cpNode.name).map(([name, c]) => [name, {
    stageBinary: (meta, data) => c.stageBinary(meta, data),
    upgradeFollow: (req) => c.upgradeFollow(req),
    getNode: () => c.getNode(),
  }]));
  const deps: DemoDeps = {
    state,
    kube: KubeClient.fromFile(state.kubeconfig),
    rest: await kubeRestFromKubeconfig(state.kubeconfig),
    agents,
    runtimes,
    controlPlane: {
      hold: (c) => cp.hold(c),
      release: (c) => cp.release(c),
      etcdSnapshot: () => cp.etcdSnapshot(),
      // The metadata goes to the agent as it is: its component field (4) names what is staged.
      stageBinary: (meta, data) => cp.stageBinary(meta, data),
      upgradeFollow: (req) => cp.upgradeFollow(req),
      getNode: () => cp.getNode(),
    },
    releaseBinary: async (component, version) => {
      if (!/^[a-z-]+$/.test(component) || !/^v\d+\.\d+\.\d+$/.test(version)) throw new InvalidInputError('DEMO_BAD_RELEASE', `no release ${component} ${version}`);
      return readFile(join(releases, version, component));
    },
    exec: execaExec,
    logger,
    out,
    clock: systemClock,
    kubeletSyncs: (node) => readSyncReport(workers.find((n) => n.name === node)?.address ?? '', KUBELET_HEALTHZ_PORT),
  };
  return {
    deps,
    close: () => {
      for (const c of connections.values()) c.close();
      for (const r of runtimes.values()) r.close();
    },
  };
}
