/**
 * The headline, in CI: the whole in-place upgrade v1.10 -> v1.17 of a lab, one minor at a time,
 * kubelet by kubelet through kip-agent with patched kubelets and the skip file, restarts no
 * container. It runs the demo's own code (scripts/demo/demo.ts runDemo, wired by wire.ts as
 * `npm run demo` wires it) on a lab in oracle mode: the lab kubelets label and judge every
 * container with the golden hashes of the real Go code, so kip's agent has to agree with the real
 * kubelet through the whole pipeline, and every step waits for each new kubelet's first completed
 * sync of every pod before counting restarts. The control plane goes through the control-plane
 * node's kip-agent (Hold, EtcdSnapshot, component Upgrade, Release), as on a real cluster.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execaExec, type ExecResult } from '../../lib/exec.ts';
import { silentLogger } from '../../lib/logger.ts';
import { readLabState, type LabState } from '../../scripts/lab/lab.ts';
import { oracleWorkloadPlan } from '../../scripts/lab/workloads-oracle.ts';
import { loadHashVectors } from '../../scripts/lab/kubelet/hashes.ts';
import { runDemo, type DemoReport } from '../../scripts/demo/demo.ts';
import { wireDemo } from '../../scripts/demo/wire.ts';
import { snapshotOf } from '../../scripts/demo/snapshot.ts';

const REPO = path.resolve(import.meta.dirname, '..', '..');
const PREFIX = '127.0.93';
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

describe('the demo upgrade v1.10 -> v1.17 in oracle mode', () => {
  it('upgrades every kubelet in place through kip-agent and restarts 0 containers', async () => {
    if (!state || state.status !== 'up') throw new Error(`the lab did not come up:\n${upResult?.stdout ?? ''}\n${upResult?.stderr ?? ''}`);
    const lines: string[] = [];
    const wired = await wireDemo(state, silentLogger(), (l) => lines.push(l));
    let report: DemoReport;
    let first: ReturnType<typeof snapshotOf>;
    try {
      first = snapshotOf((await wired.deps.kube.listPods()).items);
      report = await runDemo({ target: 'v1.17.17', patched: true, fixSelectors: true }, wired.deps);
      const last = snapshotOf((await wired.deps.kube.listPods()).items);
      // the very containers of the start run at the end: same ids, same restart counts
      expect([...last.containers.keys()].sort()).toEqual([...first.containers.keys()].sort());
      for (const [key, c] of first.containers) expect(last.containers.get(key), key).toEqual(c);
      for (const agent of wired.deps.agents.values()) expect((await agent.getNode()).kubeletVersion).toBe('v1.17.17');
      // The control plane went up through its node's agent, and nothing is left held.
      const cp = await wired.deps.controlPlane.getNode();
      expect(cp.components.map((c) => [c.name, c.version, c.held])).toEqual([
        ['kube-apiserver', 'v1.17.17', false], ['kube-controller-manager', 'v1.17.17', false], ['kube-scheduler', 'v1.17.17', false],
      ]);
    } finally {
      wired.close();
    }
    expect(report.outcome, lines.join('\n')).toBe('completed');
    expect(report.steps.map((s) => `${s.from}->${s.to}`)).toEqual([
      'v1.10.13->v1.11.10', 'v1.11.10->v1.12.10', 'v1.12.10->v1.13.12', 'v1.13.12->v1.14.10', 'v1.14.10->v1.15.12', 'v1.15.12->v1.16.15', 'v1.16.15->v1.17.17',
    ]);
    expect(report.restartedTotal, lines.join('\n')).toBe(0);
    for (const s of report.steps) expect(s.nodes.every((n) => n.outcome === 'succeeded'), `${s.from} -> ${s.to}`).toBe(true);
    for (const s of report.steps) {
      expect(s.controlPlane.components.map((c) => [c.component, c.outcome]), `${s.from} -> ${s.to}`).toEqual([
        ['kube-apiserver', 'succeeded'], ['kube-controller-manager', 'succeeded'], ['kube-scheduler', 'succeeded'],
      ]);
      expect(s.controlPlane.snapshot.totalKeys, `${s.from} -> ${s.to}`).toBeGreaterThan(0);
    }
    const revisions = report.steps.map((s) => s.controlPlane.snapshot.revision);
    expect([...revisions].sort((a, b) => a - b)).toEqual(revisions);
    // kip's prediction of what an unpatched kubelet would restart agrees, step by step, with the
    // golden hashes: every container still runs with the label v1.10 gave it, so those of the API
    // pods whose 1.10 vector hash differs from the target's, and the static pod on each worker
    // (kip matches its containers to the mirror pod by kubernetes.io/config.hash).
    const workers = ['worker-1', 'worker-2'];
    const plan = oracleWorkloadPlan(workers, 'small');
    const vectors = loadHashVectors();
    const minor = (v: string) => /^v(1\.\d+)/.exec(v)![1]!;
    for (const s of report.steps) {
      let changes = 0;
      for (const [key, id] of plan.vectorOf) {
        if (key.startsWith('<static>/')) {
          const h = vectors.find((v) => v.id === id)!.hashes;
          if (h.get('1.10') !== h.get(minor(s.to))) changes += workers.length;
          continue;
        }
        const pod = plan.pods.find((p) => key.startsWith(`${p.metadata?.namespace}/${p.metadata?.name}/`))!;
        const name = key.split('/')[2]!;
        if (pod.spec?.initContainers?.some((c) => c.name === name)) continue;
        const h = vectors.find((v) => v.id === id)!.hashes;
        if (h.get('1.10') !== h.get(minor(s.to))) changes++;
      }
      expect(s.predicted, `${s.from} -> ${s.to}`).toBe(changes);
    }
    expect(report.predictedTotal).toBeGreaterThan(0);
  }, 40 * 60_000);
});
