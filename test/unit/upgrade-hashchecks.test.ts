// Preflight's hash self-check and restart prediction, and the agent's guarded skip-file removal.
import { afterEach, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { containerHash, parseJson } from '../../lib/knowledge/hash/index.ts';
import type { ContainerInfo } from '../../agent/runtime/types.ts';
import type { WorkloadPort } from '../../agent/upgrade/ports.ts';
import { SKIP, collect, fakeBinary, makeHarness, type Harness } from './upgrade-fakes.ts';

const NEW = 'v1.11.10';
const web = { name: 'web', image: 'nginx', securityContext: { runAsUser: 1 } };
const app = { name: 'app', image: 'app:1' };
// The API's side of the join: both containers running, with the runtime's ids.
const status = { containerStatuses: ['web', 'app'].map((name) => ({ name, containerID: `containerd://id-${name}`, state: { running: {} } })) };
const podList = JSON.stringify({ kind: 'PodList', items: [{ metadata: { name: 'p', namespace: 'ns', uid: 'u' }, spec: { containers: [web, app] }, status }] });

function running(name: string, hash: string): ContainerInfo {
  return {
    id: `id-${name}`, podSandboxId: 's', name, attempt: 0, state: 'running', createdAtNs: 0n, image: 'x', imageRef: 'x',
    labels: { 'io.kubernetes.pod.uid': 'u', 'io.kubernetes.pod.name': 'p', 'io.kubernetes.pod.namespace': 'ns' },
    annotations: { 'io.kubernetes.container.hash': hash },
  };
}

function workload(labels: { web: string; app: string }): WorkloadPort {
  return { listNodePods: async () => parseJson(podList), listContainers: async () => [running('web', labels.web), running('app', labels.app)] };
}

let h: Harness | undefined;
afterEach(async () => {
  await h?.cleanup();
  h = undefined;
});

describe('preflight with workload data', () => {
  it('passes the self-check when labels are the running version\'s hashes, and predicts restarts for the target', async () => {
    // 1.10 -> 1.11: no container changes hash; use 1.11 -> 1.12, where a securityContext changes it.
    h = await makeHarness({ fromVersion: 'v1.11.10' });
    const { agent, stage } = h.makeAgent({ workload: workload({ web: containerHash(web, '1.11').label, app: containerHash(app, '1.11').label }) });
    await agent.start();
    await h.stageBuffer(stage, 'v1.12.10', fakeBinary('v1.12.10', { patched: false }));
    const report = await agent.preflight('v1.12.10');
    expect(report.checks.find((c) => c.name === 'hash-self-check')).toMatchObject({ status: 'CHECK_OK' });
    const predicted = report.checks.find((c) => c.name === 'predicted-restarts');
    expect(predicted).toMatchObject({ status: 'CHECK_FAIL' });
    expect(predicted?.message).toContain('1 of 2 running containers would restart at v1.12.10: ns/p/web');
    const allowed = await agent.preflight('v1.12.10', { allowUnpatched: true });
    expect(allowed.checks.find((c) => c.name === 'predicted-restarts')).toMatchObject({ status: 'CHECK_WARN' });
  });

  it('says a patched target keeps the changing containers running', async () => {
    h = await makeHarness({ fromVersion: 'v1.11.10' });
    const { agent, stage } = h.makeAgent({ workload: workload({ web: containerHash(web, '1.11').label, app: containerHash(app, '1.11').label }) });
    await agent.start();
    await h.stageBuffer(stage, 'v1.12.10', fakeBinary('v1.12.10'));
    const c = (await agent.preflight('v1.12.10')).checks.find((x) => x.name === 'predicted-restarts');
    expect(c).toMatchObject({ status: 'CHECK_OK' });
    expect(c?.message).toContain('the skip file keeps them running');
  });

  it('fails the self-check when a label is no hash kip computes for the running version', async () => {
    h = await makeHarness();
    const { agent, stage } = h.makeAgent({ workload: workload({ web: 'deadbeef', app: containerHash(app, '1.10').label }) });
    await agent.start();
    await h.stageBuffer(stage, NEW, fakeBinary(NEW));
    const report = await agent.preflight(NEW);
    expect(report.ok).toBe(false);
    expect(report.checks.find((c) => c.name === 'hash-self-check')?.message).toContain('HASH_SELF_CHECK_FAILED: 1 of 2 compared running containers');
  });

  it('never passes on an empty or partial view: the runtime shows nothing, or the node name matches no Node (issue 8, defect 1)', async () => {
    h = await makeHarness();
    const labels = { web: containerHash(web, '1.10').label, app: containerHash(app, '1.10').label };
    const empty: WorkloadPort = { ...workload(labels), listContainers: async () => [] };
    const { agent, stage } = h.makeAgent({ workload: empty });
    await agent.start();
    await h.stageBuffer(stage, NEW, fakeBinary(NEW));
    const report = await agent.preflight(NEW);
    expect(report.checks.find((c) => c.name === 'hash-self-check')?.message).toContain('HASH_SELF_CHECK_INCOMPLETE');
    await h.cleanup();
    h = await makeHarness();
    const unknownNode: WorkloadPort = { ...workload(labels), node: { name: 'nope', exists: async () => false } };
    const second = h.makeAgent({ workload: unknownNode });
    await second.agent.start();
    await h.stageBuffer(second.stage, NEW, fakeBinary(NEW));
    const r2 = await second.agent.preflight(NEW);
    expect(r2.ok).toBe(false);
    expect(r2.checks.find((c) => c.name === 'hash-self-check')?.message).toContain('NODE_NOT_FOUND: no Node named "nope"');
  });

  it('accepts, under a skip file, labels of any version since the one it names', async () => {
    h = await makeHarness({ fromVersion: 'v1.12.10', skipFile: 'v1.11.10,1574812800' });
    // web still carries its 1.11 hash (kept by the skip file through 1.11 -> 1.12)
    const { agent, stage } = h.makeAgent({ workload: workload({ web: containerHash(web, '1.11').label, app: containerHash(app, '1.12').label }) });
    await agent.start();
    await h.stageBuffer(stage, 'v1.13.12', fakeBinary('v1.13.12'));
    const report = await agent.preflight('v1.13.12');
    expect(report.checks.find((c) => c.name === 'hash-self-check')).toMatchObject({ status: 'CHECK_OK' });
  });
});

describe('after a rollback', () => {
  // Found by the lab e2e of the coordinator's faults: the rollback replaced the earlier step's
  // skip file with one naming the version rolled back from, and the next Upgrade was refused
  // (HASH_SELF_CHECK_FAILED) for every container still carrying the earlier step's hash.
  it('accepts the earlier step\'s hashes again: a crash-looping new kubelet rolled back leaves the older skip file', async () => {
    h = await makeHarness({ fromVersion: 'v1.12.10', skipFile: 'v1.11.10,1574812800' });
    // web still carries its 1.11 hash (kept by the skip file through 1.11 -> 1.12)
    const { agent, stage } = h.makeAgent({ workload: workload({ web: containerHash(web, '1.11').label, app: containerHash(app, '1.12').label }) });
    await agent.start();
    await h.stageBuffer(stage, 'v1.13.12', fakeBinary('v1.13.12', { crash: true }));
    await agent.begin({ runId: 'r', targetVersion: 'v1.13.12' });
    await collect(agent.events('r'));
    expect((await agent.getRun('r')).phase).toBe('RUN_ROLLED_BACK');
    await h.stageBuffer(stage, 'v1.13.12', fakeBinary('v1.13.12'));
    const report = await agent.preflight('v1.13.12');
    expect(report.checks.find((c) => c.name === 'hash-self-check'), JSON.stringify(report.checks)).toMatchObject({ status: 'CHECK_OK' });
  });
});

describe('skip file removal', () => {
  it('removes the file when asked and no run is active', async () => {
    h = await makeHarness({ skipFile: 'v1.10.13,1574812800' });
    const { agent } = h.makeAgent();
    await agent.start();
    expect((await agent.skipFileInfo()).present).toBe(true);
    await agent.removeSkipFile();
    expect((await agent.skipFileInfo()).present).toBe(false);
    // idempotent
    await agent.removeSkipFile();
    await writeFile(h.node.host(SKIP), 'v1.10.13,1');
    expect(agent.runInProgress()).toBe(false);
  });
});

describe('minorsBetween (the hash versions a skip file allows)', () => {
  it('spans the skip file version to the running one, running last, in either order', async () => {
    const { minorsBetween } = await import('../../agent/upgrade/preflight-hash.ts');
    expect(minorsBetween('v1.9.11', 'v1.11.10')).toEqual(['1.9', '1.10', '1.11']);
    // after a rollback the file names the newer version rolled back from
    expect(minorsBetween('v1.11.9', 'v1.10.13')).toEqual(['1.11', '1.10']);
    expect(minorsBetween('', 'v1.10.13')).toEqual(['v1.10.13']);
  });
});
