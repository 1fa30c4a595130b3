/**
 * The demo's collaborators for a lab that is up, wired once for `npm run demo` (main.ts, both
 * demos) and for the headline e2e test, so both run exactly the same code: the kip CLI as a
 * program, and the observers (the workers' runtimes, the golden hashes, the kubelets' sync reports).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock } from '../../lib/clock.ts';
import { execaExec } from '../../lib/exec.ts';
import { KubeClient } from '../../lib/kube/index.ts';
import { kubeRestFromKubeconfig } from '../../lib/kube/raw.ts';
import { openNodeRuntime } from '../lab/node-runtime.ts';
import type { LabState } from '../lab/lab.ts';
import { KUBELET_HEALTHZ_PORT, KUBELET_PATHS } from '../lab/node-config.ts';
import { readSyncReport } from '../lab/kubelet/sync-report.ts';
import { DemoError } from './demo.ts';
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
