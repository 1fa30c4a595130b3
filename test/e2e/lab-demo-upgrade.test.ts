/**
 * The headline, in CI: `npm run demo`'s path on a lab: the kip CLI (bin/kip.mjs as a child
 * process, with the kubeconfig, STATE/kip/pki, STATE/kip/inventory.yaml and STATE/releases the lab
 * writes) runs `kip preflight --fix node-labels`, `kip plan`, `kip stage`, `kip upgrade --to
 * v1.17.17` (every control-plane step a..g through the control-plane node's real kip-agent, then
 * the kubelets and kube-proxy through the workers' agents) and `kip report`: the whole in-place
 * upgrade v1.10 -> v1.17 with patched kubelets and the skip file restarts no container. Judged
 * from outside kip: container ids read from containerd and dockerd before and after, the golden
 * hashes of the real Go code (the lab kubelets run in oracle mode), the apiserver's /version, the
 * Nodes, and every agent's GetNode.
 *
 * CI time: the full path (7 control-plane steps, 2 workers, small workloads) rather than a
 * shorter one, because each minor has its own flag and hash changes that only the full path
 * crosses; about 6-8 minutes on a loaded machine.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execaExec, type ExecResult } from '../../lib/exec.ts';
import { AgentConnection } from '../../coordinator/fleet/client.ts';
import { readLabState, type LabState } from '../../scripts/lab/lab.ts';
import { AGENT_PORT } from '../../scripts/lab/node-config.ts';
import { oracleWorkloadPlan } from '../../scripts/lab/workloads-oracle.ts';
import { SELECTOR_LABEL, SELECTOR_POD } from '../../scripts/lab/workloads.ts';
import { loadHashVectors } from '../../scripts/lab/kubelet/hashes.ts';
import { runCliDemo, type CliDemoReport } from '../../scripts/demo/cli-demo.ts';
import { wireCliDemo } from '../../scripts/demo/wire.ts';
import { runtimeSnapshot } from '../../scripts/demo/runtime-oracle.ts';

const REPO = path.resolve(import.meta.dirname, '..', '..');
const PREFIX = '127.0.93';
const TARGET = 'v1.17.17';
let stateDir = '';
let upResult: ExecResult | undefined;
let state: LabState | undefined;

function kipLab(args: string[], timeoutMs: number): Promise<ExecResult> {
  return execaExec(process.execPath, [path.join(REPO, 'bin/kip-lab.mjs'), ...args, '--state-dir', stateDir], { timeoutMs, cwd: REPO });
}

beforeAll(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'kip-e2e-demo-'));
  upResult = await kipLab(['up', '--workers', '2', '--workloads', 'small', '--hashes', 'vectors', '--address-prefix', PREFIX, '--sync-interval', '1000', '--timeout', '300'], 360_000);
  state = await readLabState(stateDir);
}, 380_000);

afterAll(async () => {
  if (stateDir) {
    const down = await kipLab(['down'], 240_000);
    expect(down.exitCode, down.stdout + down.stderr).toBe(0);
    await rm(stateDir, { recursive: true, force: true });
  }
}, 260_000);

describe('the demo: kip preflight, plan, stage, upgrade v1.10 -> v1.17 and report on the lab, in oracle mode', () => {
  it('upgrades the control plane and every kubelet in place through the agents and restarts 0 containers', async () => {
    if (!state || state.status !== 'up') throw new Error(`the lab did not come up:\n${upResult?.stdout ?? ''}\n${upResult?.stderr ?? ''}`);
    const lines: string[] = [];
    const wired = await wireCliDemo(state, (l) => lines.push(l));
    let report: CliDemoReport;
    try {
      const first = await runtimeSnapshot(wired.deps.runtimes);
      report = await runCliDemo(TARGET, wired.deps);
      const log = lines.join('\n');
      // the very containers of the start run at the end, as the runtimes say: same ids
      const last = await runtimeSnapshot(wired.deps.runtimes);
      expect([...last.keys()].sort(), log).toEqual([...first.keys()].sort());
      for (const [key, c] of first) expect(last.get(key)?.id, key).toBe(c.id);
      // kip preflight found the pod whose nodeSelector label its node lost, and --fix node-labels put it back
      // (the pod then survived every kubelet restart: it is among the containers compared above)
      const selector = `pod ${SELECTOR_POD.namespace}/${SELECTOR_POD.name} on worker-1`;
      expect(lines.some((l) => /^ {2}ERROR +node-selector /.test(l) && l.includes(selector) && l.includes(`${SELECTOR_LABEL.key}=${SELECTOR_LABEL.value}`)), log).toBe(true);
      expect(lines, log).toContain(`  fixed: label node worker-1 ${SELECTOR_LABEL.key}=${SELECTOR_LABEL.value}`);
      expect((await wired.deps.kube.listNodes()).find((n) => n.metadata?.name === 'worker-1')?.metadata?.labels?.[SELECTOR_LABEL.key]).toBe(SELECTOR_LABEL.value);
      expect([...first.values()].some((c) => c.pod === `${SELECTOR_POD.namespace}/${SELECTOR_POD.name}`)).toBe(true);
      expect(report.outcome, log).toBe('completed');
      expect(report.runPhase).toBe('succeeded');
      expect(report.restartedTotal, log).toBe(0);
      // every component at the target: apiserver /version, the Nodes, every agent's GetNode
      expect((await wired.deps.kube.getVersion()).gitVersion).toBe(TARGET);
      const nodes = await wired.deps.kube.listNodes();
      expect(nodes.map((n) => [n.metadata?.name, n.status?.nodeInfo?.kubeletVersion])).toEqual([['worker-1', TARGET], ['worker-2', TARGET]]);
      const tls = { ca: await readFile(state.agentPki!.ca), cert: await readFile(state.agentPki!.cert), key: await readFile(state.agentPki!.key) };
      for (const n of state.nodes) {
        const agent = new AgentConnection({ address: n.agent ?? `${n.address}:${AGENT_PORT}`, tls });
        try {
          const info = await agent.getNode();
          if (n.role === 'worker') {
            expect(info.kubeletVersion, n.name).toBe(TARGET);
            expect(info.components.find((c) => c.name === 'kube-proxy')?.version, n.name).toBe(TARGET);
          } else {
            // the control plane went up through its node's agent, and nothing is left held
            expect(info.components.map((c) => [c.name, c.version, c.held])).toEqual([
              ['kube-apiserver', TARGET, false], ['kube-controller-manager', TARGET, false], ['kube-scheduler', TARGET, false],
            ]);
          }
        } finally {
          agent.close();
        }
      }
    } finally {
      wired.close();
    }
    const log = lines.join('\n');
    expect(report.steps.map((s) => `${s.from}->${s.to}`), log).toEqual([
      'v1.10.13->v1.11.10', 'v1.11.10->v1.12.10', 'v1.12.10->v1.13.12', 'v1.13.12->v1.14.10', 'v1.14.10->v1.15.12', 'v1.15.12->v1.16.15', 'v1.16.15->v1.17.17',
    ]);
    for (const s of report.steps) {
      expect(s.restarted, `${s.from} -> ${s.to}`).toEqual([]);
      expect(s.maxKubeletDowntimeMs, `${s.from} -> ${s.to}`).toBeGreaterThan(0);
      expect(s.apiserverDowntimeMs, `${s.from} -> ${s.to}`).toBeGreaterThan(0);
    }
    // an etcd snapshot per control-plane step, fetched into kip's state dir, revisions rising
    expect(report.etcdSnapshots).toHaveLength(7);
    for (const p of report.etcdSnapshots) {
      expect(p.startsWith(path.join(stateDir, 'kip', 'state', 'snapshots') + path.sep), p).toBe(true);
      expect((await stat(p)).size, p).toBeGreaterThan(0);
    }
    // kip report: the control-plane rows and the restarts per step, in the Markdown
    const md = await readFile(report.reports.find((r) => r.endsWith('.md'))!, 'utf8');
    const cpRows = md.split('\n').filter((l) => /^\| \d \(v1\.\d+\.\d+ -> v1\.\d+\.\d+\) \|/.test(l));
    for (const [i, s] of report.steps.entries()) {
      const mine = cpRows.filter((l) => l.startsWith(`| ${i + 1} (${s.from} -> ${s.to}) |`));
      const action = (l: string) => l.split(' | ')[1];
      expect(mine.map(action), s.to).toEqual([
        'pod baseline for the post-checks', 'etcd snapshot through control-plane', 'hold kube-controller-manager on control-plane', 'hold kube-scheduler on control-plane',
        'kube-apiserver on control-plane', 'swap kube-controller-manager on control-plane while held', 'swap kube-scheduler on control-plane while held', `kubelet step ${i + 1}`,
        ...(s.to === 'v1.13.12' ? ['not-ready/unreachable tolerations on every pod (TaintBasedEvictions is on from here)'] : []),
        'release kube-controller-manager on control-plane', 'release kube-scheduler on control-plane', 'post-checks',
      ]);
      expect(mine.every((l) => / \| ok \| /.test(l)), mine.join('\n')).toBe(true);
      expect(mine[1], s.to).toMatch(/snapshots\/\S+\.db \(\d+ bytes, revision \d+,/);
    }
    const restartRows = md.split('\n').filter((l) => /^\| \d \| worker-1, worker-2 -> /.test(l));
    expect(restartRows.map((l) => l.split(' | ')[3]), md).toEqual(['0', '0', '0', '0', '0', '0', '0']);
    // The demo's "would restart without the skip file": the golden hashes against the labels the
    // containers still carry from v1.10 (every one still runs): the API pods whose 1.10 vector
    // hash differs from the target's, and the static pod on each worker.
    const workers = ['worker-1', 'worker-2'];
    const plan = oracleWorkloadPlan(workers, 'small');
    const vectors = loadHashVectors();
    const minor = (v: string) => /^v(1\.\d+)/.exec(v)![1]!;
    for (const s of report.steps) {
      let changes = 0;
      for (const [key, id] of plan.vectorOf) {
        const h = vectors.find((v) => v.id === id)!.hashes;
        const changed = h.get('1.10') !== h.get(minor(s.to));
        if (key.startsWith('<static>/')) {
          if (changed) changes += workers.length;
          continue;
        }
        const pod = plan.pods.find((p) => key.startsWith(`${p.metadata?.namespace}/${p.metadata?.name}/`))!;
        if (pod.spec?.initContainers?.some((c) => c.name === key.split('/')[2])) continue;
        if (changed) changes++;
      }
      expect(s.predicted, `${s.from} -> ${s.to}`).toBe(changes);
    }
    expect(report.steps.some((s) => s.predicted > 0)).toBe(true);
  }, 40 * 60_000);
});
