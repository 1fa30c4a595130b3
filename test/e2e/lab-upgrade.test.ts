/**
 * End to end on the lab (1 control plane + 2 workers at v1.13.12, hash oracle: the lab kubelets
 * take every hash from the golden vectors): kubelet upgrades to v1.14.10 through kip-agent:
 * - worker-1 gets an UNPATCHED v1.14.10: it restarts exactly the containers whose golden hash
 *   changes 1.13 -> 1.14 (those with a volume mount: VolumeMount gained SubPathExpr) and nothing
 *   else, and its restart re-admits pods, killing exactly the pod whose nodeSelector label
 *   worker-1 lost;
 * - worker-2 gets a PATCHED v1.14.10 and the skip file: nothing restarts, though hashes changed;
 * - the apiserver keeps every object across its own restart (they live in etcd).
 * Every assertion on restarts follows the new kubelet's first completed sync of every pod.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execaExec, type ExecResult } from '../../lib/exec.ts';
import { AgentConnection } from '../../coordinator/fleet/client.ts';
import { KubeClient } from '../../lib/kube/index.ts';
import { kubeRestFromKubeconfig, listNodePods } from '../../lib/kube/raw.ts';
import { upgradeNode } from '../../coordinator/rollout/node-upgrade.ts';
import { createCriClient } from '../../agent/runtime/cri.ts';
import { checkConsistency } from '../../agent/watch/consistency.ts';
import { launcherScript } from '../../scripts/lab/kubelet/launcher.ts';
import { AGENT_PORT, SKIP_FILE } from '../../scripts/lab/node-config.ts';
import { labRuntime, nodeExec, readLabState, type LabState } from '../../scripts/lab/lab.ts';
import { SELECTOR_POD } from '../../scripts/lab/workloads.ts';
import { oracleWorkloadPlan } from '../../scripts/lab/workloads-oracle.ts';
import { loadHashVectors } from '../../scripts/lab/kubelet/hashes.ts';
import { readSyncReport } from '../../scripts/lab/kubelet/sync-report.ts';
import { KUBELET_HEALTHZ_PORT } from '../../scripts/lab/node-config.ts';
import { systemClock } from '../../lib/clock.ts';
import { restartedBetween, snapshotOf } from '../../scripts/demo/snapshot.ts';
import { waitFirstSync, waitSettled } from '../../scripts/demo/demo.ts';

const REPO = path.resolve(import.meta.dirname, '..', '..');
const PREFIX = '127.0.95';
const FROM = 'v1.13.12';
const TO = 'v1.14.10';
let stateDir = '';
let upResult: ExecResult | undefined;
let state: LabState | undefined;
let kube: KubeClient;
const agents = new Map<string, AgentConnection>();

function kip(args: string[], timeoutMs: number): Promise<ExecResult> {
  return execaExec(process.execPath, [path.join(REPO, 'bin/kip-lab.mjs'), ...args, '--state-dir', stateDir], { timeoutMs, cwd: REPO });
}

function lab(): LabState {
  if (!state || state.status !== 'up') throw new Error(`the lab did not come up:\n${upResult?.stdout ?? ''}\n${upResult?.stderr ?? ''}`);
  return state;
}

/** Live pods settled (scripts/demo's rule: all running, all containers reported, stable across a sync). */
function settledPods(timeoutMs = 90_000): Promise<V1Pod[]> {
  return waitSettled(async () => (await kube.listPods()).items, systemClock, timeoutMs);
}

/** The new kubelet's first completed sync of every pod on the node: only then may "nothing restarted" be asserted. */
function firstSync(node: string, version: string) {
  const address = lab().nodes.find((n) => n.name === node)!.address;
  return waitFirstSync([node], version, () => readSyncReport(address, KUBELET_HEALTHZ_PORT), systemClock, 90_000);
}

async function upgradeWorker(node: string, patched: boolean): Promise<void> {
  const agent = agents.get(node)!;
  const binary = Buffer.from(launcherScript({ version: TO, skipFilePath: patched ? SKIP_FILE : undefined, ...labRuntime(lab()) }));
  await agent.stageBinary({ version: TO, sha256: createHash('sha256').update(binary).digest('hex'), size: binary.length }, binary);
  const result = await upgradeNode(node, { upgrade: (req) => agent.upgradeFollow(req) }, { runId: `e2e-${node}`, targetVersion: TO, allowUnpatched: !patched });
  expect(result.outcome, `${result.errorCode}: ${result.message}\n${result.journalTail.join('\n')}`).toBe('succeeded');
  expect((await agent.getNode()).kubeletVersion).toBe(TO);
  await firstSync(node, TO);
}

const key = (p: V1Pod, c: string) => `${p.metadata?.namespace}/${p.metadata?.name}/${c}`;

beforeAll(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'kip-e2e-upgrade-'));
  upResult = await kip(['up', '--workers', '2', '--workloads', 'small', '--hashes', 'vectors', '--version', FROM, '--address-prefix', PREFIX, '--sync-interval', '1000', '--timeout', '240'], 300_000);
  state = await readLabState(stateDir);
  const s = lab();
  kube = KubeClient.fromFile(s.kubeconfig!);
  const tls = { ca: await readFile(s.agentPki!.ca), cert: await readFile(s.agentPki!.cert), key: await readFile(s.agentPki!.key) };
  for (const n of s.nodes.filter((x) => x.role === 'worker')) agents.set(n.name, new AgentConnection({ address: `${n.address}:${AGENT_PORT}`, tls }));
}, 320_000);

afterAll(async () => {
  for (const a of agents.values()) a.close();
  if (stateDir) {
    const down = await kip(['down'], 240_000);
    expect(down.exitCode, down.stdout + down.stderr).toBe(0);
    await rm(stateDir, { recursive: true, force: true });
  }
}, 260_000);

describe(`kubelet upgrades ${FROM} -> ${TO} in the lab`, () => {
  it('unpatched on worker-1: restarts exactly the containers whose golden hash changes, and kills exactly the pod whose nodeSelector label the node lost', async () => {
    const before = await settledPods();
    const selectorPod = before.find((p) => p.metadata?.name === SELECTOR_POD.name);
    expect(selectorPod?.spec?.nodeName).toBe('worker-1');
    // The oracle, not kip: the vectors of the real Go code say which containers change 1.13 -> 1.14.
    const plan = oracleWorkloadPlan(['worker-1', 'worker-2'], 'small');
    const vectors = loadHashVectors();
    const changes = (k: string): boolean => {
      const id = plan.vectorOf.get(k);
      const h = vectors.find((v) => v.id === id)?.hashes;
      if (!h) throw new Error(`no vector for ${k}`);
      return h.get('1.13') !== h.get('1.14');
    };
    const mine = before.filter((p) => p.spec?.nodeName === 'worker-1' && p !== selectorPod && !p.metadata?.annotations?.['kubernetes.io/config.mirror']);
    const expected = mine.flatMap((p) => (p.spec?.containers ?? []).filter((c) => changes(key(p, c.name))).map((c) => key(p, c.name))).sort();
    const untouched = mine.flatMap((p) => (p.spec?.containers ?? []).filter((c) => !changes(key(p, c.name))).map((c) => key(p, c.name)));
    expect(expected.length).toBeGreaterThan(0);
    expect(untouched.length).toBeGreaterThan(0);

    await upgradeWorker('worker-1', false);
    const after = await settledPods();
    const { restarted, gone } = restartedBetween(snapshotOf(before), snapshotOf(after));
    expect(restarted.sort()).toEqual(expected);
    for (const k of untouched) expect(restarted).not.toContain(k);
    // the only containers gone are the selector pod's, and it failed with MatchNodeSelector
    expect(gone.every((k) => k.split('/')[1] === SELECTOR_POD.name)).toBe(true);
    const killed = (await kube.listPods()).items.find((p) => p.metadata?.name === SELECTOR_POD.name);
    expect(killed?.status).toMatchObject({ phase: 'Failed', reason: 'MatchNodeSelector' });
    expect((await kube.listPods()).items.filter((p) => p.status?.phase === 'Failed').map((p) => p.metadata?.name)).toEqual([SELECTOR_POD.name]);
  }, 240_000);

  it('patched on worker-2 with the skip file: restarts nothing, though its containers\' hashes changed', async () => {
    const s = lab();
    const w2 = s.nodes.find((n) => n.name === 'worker-2')!;
    const cri = createCriClient({ address: `unix://${w2.containerd!.socket}` });
    const rest = await kubeRestFromKubeconfig(s.kubeconfig!);
    try {
      const podList = (await listNodePods(rest, 'worker-2')).node;
      const changing = checkConsistency(podList, await cri.listContainers(), TO).stale.length;
      expect(changing).toBeGreaterThan(0);
      const before = await settledPods();
      await upgradeWorker('worker-2', true);
      const after = await settledPods();
      const { restarted, gone } = restartedBetween(snapshotOf(before), snapshotOf(after));
      expect(restarted).toEqual([]);
      expect(gone).toEqual([]);
      // the kubelet runs the new version and the skip file names the old one
      const skip = await nodeExec(execaExec, w2.leaderPid!, 'cat', [SKIP_FILE]);
      expect(skip.stdout).toMatch(new RegExp(`^${FROM.replace(/\./g, '\\.')},\\d+$`));
    } finally {
      cri.close();
    }
  }, 240_000);

  it('the apiserver keeps every object across its own restart', async () => {
    const s = lab();
    const cp = s.nodes.find((n) => n.role === 'control-plane')!;
    const uids = (await kube.listPods()).items.map((p) => p.metadata?.uid).sort();
    const r = await nodeExec(execaExec, cp.leaderPid!, 'systemctl', ['restart', 'kube-apiserver.service'], 60_000);
    expect(r.exitCode, r.stderr).toBe(0);
    const deadline = systemClock.now() + 60_000;
    let after: (string | undefined)[] | undefined;
    while (!after) {
      try {
        after = (await kube.listPods()).items.map((p) => p.metadata?.uid).sort();
      } catch (err) {
        if (systemClock.now() > deadline) throw err;
        await systemClock.sleep(500);
      }
    }
    expect(after).toEqual(uids);
    expect((await kube.listNodes()).map((n) => n.metadata?.name).sort()).toEqual(['worker-1', 'worker-2']);
  }, 120_000);
});
