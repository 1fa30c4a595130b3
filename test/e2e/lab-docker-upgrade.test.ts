/**
 * End to end on a lab brought up with the lab's default runtime (mixed: worker-1 on a private
 * dockerd, its kubelet with dockershim's flags, worker-2 on containerd), v1.13.12, hash oracle:
 * - the Docker worker's pods are dockershim's (k8s_ names and labels, read from its dockerd on
 *   the host), and its kip-agent detected Docker from the kubelet's flags (Inventory: runtime
 *   docker, every container's label the golden 1.13 hash);
 * - a PATCHED v1.14.10 kubelet through kip-agent on the Docker worker with the skip file:
 *   0 containers restarted (by dockerd's container ids and by the API's statuses), though hashes
 *   changed (only the pod whose nodeSelector label the node lost is killed on re-admission);
 *   the skip file names v1.13.12;
 * - the operator rolls the pods that still carry a 1.13 hash (delete + create, as a controller
 *   would): the agent's consistency loop, reading Docker, removes the skip file.
 * Settings: KIP_E2E_DOCKER_STATE_DIR / KIP_E2E_DOCKER_PREFIX pick the lab's state dir and address
 * prefix (default: a temp dir and 127.0.96); KIP_E2E_REPORT=FILE writes the measured figures.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execaExec } from '../../lib/exec.ts';
import { AgentConnection } from '../../coordinator/fleet/client.ts';
import { KubeClient } from '../../lib/kube/index.ts';
import { upgradeNode } from '../../coordinator/rollout/node-upgrade.ts';
import { createDockerClient, dockershimReader } from '../../agent/runtime/docker.ts';
import { launcherScript } from '../../scripts/lab/kubelet/launcher.ts';
import { AGENT_PORT, KUBELET_HEALTHZ_PORT, SKIP_FILE } from '../../scripts/lab/node-config.ts';
import { nodeExec, readLabState, type LabNodeRecord } from '../../scripts/lab/lab.ts';
import { readSyncReport } from '../../scripts/lab/kubelet/sync-report.ts';
import { systemClock } from '../../lib/clock.ts';
import { waitFor } from '../../lib/poll.ts';
import { restartedBetween, snapshotOf } from '../../scripts/demo/snapshot.ts';
import { waitFirstSync, waitSettled } from '../../scripts/demo/demo.ts';
import { SELECTOR_POD } from '../../scripts/lab/workloads.ts';
import { loadKipGrpcObject } from '../../proto/kip/loader.ts';
import type { ProtoGrpcType } from '../../proto/kip/generated/agent.ts';
import type { AgentClient } from '../../proto/kip/generated/kip/v1/Agent.ts';
import { LabSession } from './lab-session.ts';
import type { InventoryReport__Output } from '../../proto/kip/generated/kip/v1/InventoryReport.ts';
import type { HashReportResponse__Output } from '../../proto/kip/generated/kip/v1/HashReportResponse.ts';

const PREFIX = process.env.KIP_E2E_DOCKER_PREFIX ?? '127.0.96';
const FROM = 'v1.13.12';
const TO = 'v1.14.10';
const session = new LabSession();
let ownDir = false;
let kube: KubeClient;
let agent: AgentConnection | undefined;
let raw: AgentClient | undefined;
const figures: Record<string, unknown> = {};

function dockerWorker(): LabNodeRecord {
  const w = session.lab().nodes.find((n) => n.runtime === 'docker');
  if (!w?.dockerd) throw new Error(`no Docker worker in the lab (runtimes: ${session.lab().nodes.map((n) => `${n.name}=${n.runtime ?? '-'}`).join(' ')})`);
  return w;
}

function unary<T>(call: (cb: (err: grpc.ServiceError | null, res?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => call((err, res) => (err || res === undefined ? reject(err ?? new Error('empty')) : resolve(res))));
}

/** The Docker worker's containers as its dockerd holds them: pod/container -> id. */
async function dockerContainers(): Promise<Map<string, string>> {
  const reader = dockershimReader(createDockerClient({ socketPath: dockerWorker().dockerd!.socket }));
  const out = new Map<string, string>();
  for (const c of await reader.listContainers({ state: 'running' })) out.set(`${c.labels['io.kubernetes.pod.namespace']}/${c.labels['io.kubernetes.pod.name']}/${c.name}`, c.id);
  return out;
}

function settledPods(timeoutMs = 90_000): Promise<V1Pod[]> {
  return waitSettled(async () => (await kube.listPods()).items, systemClock, timeoutMs);
}

const skipPresent = async (): Promise<boolean> => (await nodeExec(execaExec, dockerWorker().leaderPid!, 'test', ['-e', SKIP_FILE])).exitCode === 0;

beforeAll(async () => {
  session.stateDir = process.env.KIP_E2E_DOCKER_STATE_DIR ?? '';
  if (!session.stateDir) {
    session.stateDir = await mkdtemp(path.join(tmpdir(), 'kip-e2e-docker-'));
    ownDir = true;
  }
  // No --runtime: the lab's default (mixed) puts worker-1 on dockerd.
  session.upResult = await session.kipLab(['up', '--workers', '2', '--workloads', 'small', '--hashes', 'vectors', '--version', FROM, '--address-prefix', PREFIX, '--sync-interval', '1000', '--timeout', '300'], 360_000);
  session.state = await readLabState(session.stateDir);
  const s = session.lab();
  kube = KubeClient.fromFile(s.kubeconfig!);
  const tls = { ca: await readFile(s.agentPki!.ca), cert: await readFile(s.agentPki!.cert), key: await readFile(s.agentPki!.key) };
  const address = `${dockerWorker().address}:${AGENT_PORT}`;
  agent = new AgentConnection({ address, tls });
  const proto = loadKipGrpcObject() as unknown as ProtoGrpcType;
  raw = new proto.kip.v1.Agent(address, grpc.credentials.createSsl(tls.ca, tls.key, tls.cert));
}, 380_000);

afterAll(async () => {
  agent?.close();
  raw?.close();
  if (process.env.KIP_E2E_REPORT) await writeFile(process.env.KIP_E2E_REPORT, `${JSON.stringify(figures, null, 2)}\n`);
  if (session.stateDir) {
    const down = await session.kipLab(['down'], 240_000);
    expect(down.exitCode, down.stdout + down.stderr).toBe(0);
    if (ownDir) await rm(session.stateDir, { recursive: true, force: true });
  }
}, 260_000);

describe(`a Docker (dockershim) worker in the lab, ${FROM} -> ${TO} patched`, () => {
  it('runs its pods on dockerd as dockershim does, and its agent reads Docker', async () => {
    const s = session.lab();
    expect(s.options.runtime).toBe('mixed');
    expect(s.nodes.filter((n) => n.role === 'worker').map((n) => `${n.name}=${n.runtime}`)).toEqual(['worker-1=docker', 'worker-2=containerd']);
    const status = await session.kipLab(['status'], 60_000);
    expect(status.stdout).toMatch(/worker-1\s+worker\s+\S+\s+docker/);
    const pods = await settledPods();
    const mine = pods.filter((p) => p.spec?.nodeName === 'worker-1' && p.status?.phase === 'Running');
    const inDocker = await dockerContainers();
    // every container the API shows running on worker-1 is a dockershim container in its dockerd, with the same id
    for (const p of mine) {
      for (const c of p.status?.containerStatuses ?? []) {
        const k = `${p.metadata?.namespace}/${p.metadata?.name}/${c.name}`;
        expect(c.containerID, k).toBe(`docker://${inDocker.get(k) ?? '?'}`);
      }
    }
    const docker = dockerWorker().dockerd!;
    const names = (await createDockerClient({ socketPath: docker.socket }).listContainers({ all: true })).flatMap((c) => c.names);
    expect(names.length).toBeGreaterThan(0);
    expect(names.every((n) => /^k8s_[^_]+_[^_]+_[^_]+_[^_]+_\d+$/.test(n)), names.join(' ')).toBe(true);
    expect(names.some((n) => n.startsWith('k8s_POD_'))).toBe(true);
    const inv = await unary<InventoryReport__Output>((cb) => raw!.Inventory({}, cb));
    expect(inv.runtime).toBe('docker unix:///var/run/docker.sock');
    expect(inv.containers.length).toBe(inDocker.size);
    for (const c of inv.containers) expect(c.matchingVersions, `${c.pod}/${c.containerName}`).toContain('1.13');
    const report = await unary<HashReportResponse__Output>((cb) => raw!.HashReport({ targetVersion: TO }, cb));
    expect(report).toMatchObject({ selfCheckOk: true, consistent: true });
    expect(report.predictedRestarts.length).toBeGreaterThan(0);
    figures.predictedRestarts = report.predictedRestarts.length;
    figures.memoryBytes = s.summary?.memoryBytes;
  }, 240_000);

  it('patched upgrade through kip-agent: 0 restarts (dockerd ids and API statuses), skip file in place', async () => {
    const before = await settledPods();
    const idsBefore = await dockerContainers();
    const binary = Buffer.from(launcherScript({ version: TO, skipFilePath: SKIP_FILE }));
    await agent!.stageBinary({ version: TO, sha256: createHash('sha256').update(binary).digest('hex'), size: binary.length }, binary);
    const result = await upgradeNode('worker-1', { upgrade: (req) => agent!.upgradeFollow(req) }, { runId: 'e2e-docker-worker-1', targetVersion: TO });
    expect(result.outcome, `${result.errorCode}: ${result.message}\n${result.journalTail.join('\n')}`).toBe('succeeded');
    expect((await agent!.getNode()).kubeletVersion).toBe(TO);
    await waitFirstSync(['worker-1'], TO, () => readSyncReport(dockerWorker().address, KUBELET_HEALTHZ_PORT), systemClock, 90_000);
    const after = await settledPods();
    const { restarted, gone } = restartedBetween(snapshotOf(before), snapshotOf(after));
    expect(restarted).toEqual([]);
    // The kubelet's restart re-admits its pods: the one whose nodeSelector label the lab took off
    // worker-1 is killed (MatchNodeSelector, patched or not); nothing else goes.
    expect(gone.every((k) => k.split('/')[1] === SELECTOR_POD.name), gone.join(' ')).toBe(true);
    const idsAfter = await dockerContainers();
    const kept = [...idsBefore.entries()].filter(([k]) => k.split('/')[1] !== SELECTOR_POD.name).sort();
    expect([...idsAfter.entries()].sort()).toEqual(kept);
    const skip = await nodeExec(execaExec, dockerWorker().leaderPid!, 'cat', [SKIP_FILE]);
    expect(skip.stdout).toMatch(new RegExp(`^${FROM.replace(/\./g, '\\.')},\\d+$`));
    figures.restarts = restarted.length;
    figures.kubeletDowntimeMs = result.kubeletDowntimeMs;
    figures.containersOnDockerWorker = idsAfter.size;
  }, 240_000);

  it('once the pods with an old hash are rolled, the agent (reading Docker) removes the skip file', async () => {
    const report = await unary<HashReportResponse__Output>((cb) => raw!.HashReport({}, cb));
    expect(report.consistent).toBe(false);
    expect(await skipPresent()).toBe(true);
    const inv = await unary<InventoryReport__Output>((cb) => raw!.Inventory({}, cb));
    const stalePods = [...new Set(inv.containers.filter((c) => !c.matchingVersions.includes('1.14')).map((c) => c.pod))];
    expect(stalePods.length).toBeGreaterThan(0);
    figures.rolledPods = stalePods.length;
    // Roll them as a controller would: the same spec, a new pod (new uid, new containers at 1.14's hash).
    for (const ref of stalePods) {
      const [namespace, name] = ref.split('/') as [string, string];
      const old = await kube.getPod(namespace, name);
      await kube.deletePod(namespace, name);
      await kube.createPod(namespace, { metadata: { name, namespace, labels: old.metadata?.labels ?? {} }, spec: old.spec! });
    }
    await settledPods();
    const removedAt = await waitFor('the agent to remove the skip file', async () => ((await skipPresent()) ? undefined : systemClock.now()), { timeoutMs: 90_000, intervalMs: 500 });
    expect(removedAt).toBeGreaterThan(0);
    const done = await unary<HashReportResponse__Output>((cb) => raw!.HashReport({}, cb));
    expect(done.consistent).toBe(true);
  }, 240_000);
});
