/**
 * The Watch RPC end to end: a real runtime (dockerd 20.10 with dockershim's layout, then
 * containerd 1.6 over CRI, each private), the node watcher polling it, the agent's gRPC server over
 * mutual TLS, and a client reading the stream. Asserts the typed events of a container restart, a
 * sandbox recreation, a pod gone and the skip file's lifecycle, the detection latency, resumption
 * from a sequence number, and OUT_OF_RANGE / WATCH_SEQUENCE_EXPIRED for a sequence the agent does
 * not hold.
 */
import * as grpc from '@grpc/grpc-js';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgentHandlers, startAgentServer, type RunningServer } from '../../agent/server.ts';
import { createWatchHandlers } from '../../agent/server-watch.ts';
import { createCriClient, type CriClient } from '../../agent/runtime/cri.ts';
import { createDockerClient, dockershimReader } from '../../agent/runtime/docker.ts';
import type { PodSandboxSpec, RuntimeReader } from '../../agent/runtime/types.ts';
import { EventLog } from '../../agent/watch/event-log.ts';
import { hashReport, inventory } from '../../agent/watch/inventory.ts';
import { containerHash, parseJson } from '../../lib/knowledge/hash/index.ts';
import { NodeWatcher } from '../../agent/watch/node-watcher.ts';
import { systemClock } from '../../lib/clock.ts';
import { silentLogger } from '../../lib/logger.ts';
import { waitFor } from '../../lib/poll.ts';
import { loadKipGrpcObject } from '../../proto/kip/loader.ts';
import type { ProtoGrpcType } from '../../proto/kip/generated/agent.ts';
import type { AgentClient } from '../../proto/kip/generated/kip/v1/Agent.ts';
import type { WatchEvent__Output } from '../../proto/kip/generated/kip/v1/WatchEvent.ts';
import type { InventoryReport__Output } from '../../proto/kip/generated/kip/v1/InventoryReport.ts';
import type { HashReportResponse__Output } from '../../proto/kip/generated/kip/v1/HashReportResponse.ts';
import { startContainerd, type ContainerdHandle } from '../../scripts/containerd/containerd.ts';
import { startDockerd, type DockerdHandle } from '../../scripts/containerd/dockerd.ts';
import { makeHarness, type Harness } from '../unit/upgrade-fakes.ts';
import { makeTestPki, type TestPki } from '../../scripts/nspawn/test-pki.ts';

let tmp = '';
let pki: TestPki;
let harness: Harness;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'kip-watch-rpc-'));
  pki = await makeTestPki(join(tmp, 'pki'));
  harness = await makeHarness();
}, 60_000);
afterAll(async () => {
  await harness?.cleanup();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** How a test lays out pods in one runtime, the way its kubelet would. */
interface Driver {
  readonly reader: RuntimeReader;
  sandbox(uid: string): Promise<string>;
  container(sandboxId: string, uid: string, attempt: number): Promise<string>;
  kill(id: string): Promise<void>;
  removeContainer(id: string): Promise<void>;
  stopSandbox(id: string): Promise<void>;
  removeSandbox(id: string): Promise<void>;
}

interface Rig {
  readonly events: WatchEvent__Output[];
  readonly client: AgentClient;
  readonly skipFile: string;
  readonly watcher: NodeWatcher;
  readonly server: RunningServer;
  readonly stream: grpc.ClientReadableStream<WatchEvent__Output>;
}

async function rig(driver: Driver, name: string): Promise<Rig> {
  const skipFile = join(tmp, `${name}-cache.version.save`);
  const log = new EventLog(1_000);
  const watcher = new NodeWatcher({
    reader: driver.reader,
    skipFile: async () => (existsSync(skipFile) ? readFile(skipFile, 'utf8') : undefined),
    kubelet: async () => ({ active: true, mainPid: 1 }),
    log,
    clock: systemClock,
    intervalMs: 200,
    logger: silentLogger(),
  });
  watcher.start();
  const { agent, stage } = harness.makeAgent();
  // The API's view for Inventory / HashReport: one pod, uid-watch-1, whose container "app" runs.
  const podList = async () => {
    const running = (await driver.reader.listContainers()).filter((c) => c.state === 'running' && c.name === 'app');
    return parseJson(JSON.stringify({
      kind: 'PodList',
      items: [{ metadata: { name: 'web', namespace: 'default', uid: 'uid-watch-1' }, spec: { containers: [APP_SPEC] }, status: { containerStatuses: running.map((c) => ({ name: 'app', containerID: `x://${c.id}`, state: { running: {} } })) } }],
    }));
  };
  const watch = createWatchHandlers({
    events: log,
    inventory: async () => ({ kubeletVersion: 'v1.14.10', runtime: name, containers: inventory(await podList(), await driver.reader.listContainers(), undefined, { kubeletVersion: 'v1.14.10' }), skipFileVersion: '', acceptedVersions: ['1.14'] }),
    hashReport: async (target) => hashReport({ nodeFound: true, nodeName: 'n1', podList: await podList(), containers: await driver.reader.listContainers(), kubeletVersion: 'v1.14.10', ...(target ? { targetVersion: target } : {}) }),
    logger: silentLogger(),
  });
  const handlers = createAgentHandlers(agent, stage, silentLogger(), {}, watch);
  const server = await startAgentServer({ address: '127.0.0.1:0', tls: pki.server, handlers, logger: silentLogger() });
  const proto = loadKipGrpcObject() as unknown as ProtoGrpcType;
  const client = new proto.kip.v1.Agent(`127.0.0.1:${server.port}`, grpc.credentials.createSsl(pki.client.ca, pki.client.key, pki.client.cert), { 'grpc.ssl_target_name_override': 'localhost' });
  const events: WatchEvent__Output[] = [];
  const stream = client.Watch({ fromSequence: 0 });
  stream.on('data', (e: WatchEvent__Output) => events.push(e));
  stream.on('error', () => {});
  await waitFor('the watcher baseline', async () => (watcher.polls >= 1 ? true : undefined), { timeoutMs: 20_000 });
  return { events, client, skipFile, watcher, server, stream };
}

async function endRig(r: Rig | undefined): Promise<void> {
  if (!r) return;
  r.stream.cancel();
  r.client.close();
  await r.watcher.stop();
  await r.server.shutdown(1_000);
}

const find = (r: Rig, pred: (e: WatchEvent__Output) => boolean, what: string) => waitFor(what, async () => r.events.find(pred), { timeoutMs: 30_000, intervalMs: 50 });

/** The scenario, the same on both runtimes. */
async function scenario(driver: Driver, r: Rig): Promise<void> {
  const uid = 'uid-watch-1';
  const sb = await driver.sandbox(uid);
  const first = await driver.container(sb, uid, 0);
  await find(r, (e) => e.kind === 'CONTAINER_ADDED' && e.afterId === first, 'CONTAINER_ADDED');

  // A restart: the container dies, the "kubelet" creates attempt 1.
  const killedAt = Date.now();
  await driver.kill(first);
  const second = await driver.container(sb, uid, 1);
  const restarted = await find(r, (e) => e.kind === 'CONTAINER_RESTARTED', 'CONTAINER_RESTARTED');
  expect(restarted).toMatchObject({ podUid: uid, podName: 'web', podNamespace: 'default', containerName: 'app', beforeId: first, afterId: second, restarts: 1, exitCode: 137 });
  // Docker's list API has second resolution: the new container is not older.
  expect(BigInt(restarted.afterCreatedAtUnixNs)).toBeGreaterThanOrEqual(BigInt(restarted.beforeCreatedAtUnixNs));
  expect(BigInt(restarted.afterCreatedAtUnixNs)).toBeGreaterThan(0n);
  process.stdout.write(`restart on the stream ${restarted.observedAtUnixMs - killedAt} ms after the kill (poll 200 ms)\n`);

  // Inventory and HashReport over the wire, on the running container.
  const inv = await new Promise<InventoryReport__Output>((resolve, reject) => r.client.Inventory({}, (err, res) => (err || !res ? reject(err) : resolve(res))));
  expect(inv.containers).toHaveLength(1);
  expect(inv.containers[0]).toMatchObject({ containerId: second, podUid: uid, containerName: 'app', hashLabel: APP_HASH, problem: '' });
  expect(inv.containers[0]!.matchingVersions).toContain('1.14');
  const rep = await new Promise<HashReportResponse__Output>((resolve, reject) => r.client.HashReport({ targetVersion: 'v1.15.12' }, (err, res) => (err || !res ? reject(err) : resolve(res))));
  expect(rep).toMatchObject({ selfCheckOk: true, consistent: true, compared: 1, predictedRestarts: [] });

  await writeFile(r.skipFile, 'v1.13.12,1574812800');
  expect(await find(r, (e) => e.kind === 'SKIP_FILE_WRITTEN', 'SKIP_FILE_WRITTEN')).toMatchObject({ detail: 'v1.13.12,1574812800' });
  await rm(r.skipFile);
  await find(r, (e) => e.kind === 'SKIP_FILE_REMOVED', 'SKIP_FILE_REMOVED');

  // The sandbox is recreated as the kubelet does it: containers and sandbox stopped, a new sandbox
  // and containers created, the old ones garbage-collected later.
  await driver.kill(second);
  await driver.stopSandbox(sb);
  const sb2 = await driver.sandbox(uid);
  // The kubelet continues the attempt count in the new sandbox (restartCount + 1).
  const third = await driver.container(sb2, uid, 2);
  await driver.removeContainer(first);
  await driver.removeContainer(second);
  await driver.removeSandbox(sb);
  const recreated = await find(r, (e) => e.kind === 'SANDBOX_RECREATED', 'SANDBOX_RECREATED');
  expect(recreated).toMatchObject({ podUid: uid, beforeId: sb, afterId: sb2 });

  // The pod goes away.
  await driver.kill(third);
  await driver.removeContainer(third);
  await driver.removeSandbox(sb2);
  expect(await find(r, (e) => e.kind === 'POD_GONE', 'POD_GONE')).toMatchObject({ podUid: uid, podName: 'web' });

  // Sequences are 1, 2, 3, ... without gaps on the stream.
  expect(r.events.map((e) => e.sequence)).toEqual(r.events.map((_e, i) => i + 1));

  // Resume from the middle: exactly the events after it.
  const mid = r.events[Math.floor(r.events.length / 2)]!.sequence;
  const resumed: WatchEvent__Output[] = [];
  const again = r.client.Watch({ fromSequence: mid });
  again.on('data', (e: WatchEvent__Output) => resumed.push(e));
  again.on('error', () => {});
  const total = r.events.length;
  await waitFor('the resumed events', async () => (resumed.length >= total - mid ? true : undefined), { timeoutMs: 10_000 });
  expect(resumed.map((e) => e.sequence)).toEqual(r.events.slice(mid).map((e) => e.sequence));
  expect(resumed.map((e) => e.kind)).toEqual(r.events.slice(mid).map((e) => e.kind));
  again.cancel();

  // A sequence the agent never handed out (an agent restart counts from 1 again): like 410 Gone.
  const err = await new Promise<grpc.ServiceError>((resolve) => {
    const s = r.client.Watch({ fromSequence: total + 1_000 });
    s.on('data', () => {});
    s.on('error', resolve);
  });
  expect(err.code).toBe(grpc.status.OUT_OF_RANGE);
  expect(err.metadata.get('kip-error-code')).toEqual(['WATCH_SEQUENCE_EXPIRED']);
}

const APP_SPEC = { name: 'app', image: 'busybox', command: ['/bin/sleep', '3600'] };
const APP_HASH = containerHash(APP_SPEC, '1.14').label;

const labels = (uid: string) => ({ 'io.kubernetes.pod.name': 'web', 'io.kubernetes.pod.namespace': 'default', 'io.kubernetes.pod.uid': uid });

describe('Watch over gRPC on a dockershim node (real dockerd)', () => {
  let dockerd: DockerdHandle | undefined;
  let r: Rig | undefined;
  beforeAll(async () => {
    dockerd = await startDockerd({ dir: join(tmp, 'dockerd') });
  }, 120_000);
  afterAll(async () => {
    await endRig(r);
    await dockerd?.stop();
  }, 120_000);

  it('streams restart, sandbox, pod and skip-file events, resumes, and refuses an unknown sequence', async () => {
    const d = dockerd!;
    const docker = async (...args: string[]) => {
      const res = await d.docker(args);
      if (res.exitCode !== 0) throw new Error(`docker ${args.join(' ')}: ${res.stderr}`);
      return res.stdout.trim();
    };
    let sandboxes = 0;
    const lab = (uid: string) => Object.entries(labels(uid)).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
    const driver: Driver = {
      reader: dockershimReader(createDockerClient({ socketPath: `unix://${d.socket}`, timeoutMs: 20_000 })),
      sandbox: (uid) => docker('run', '-d', '--name', `k8s_POD_web_default_${uid}_${sandboxes++}`, '--network', 'none', '--label', 'io.kubernetes.docker.type=podsandbox', ...lab(uid), d.images.pause),
      container: async (sb, uid, attempt) => {
        // 7 fields: dockershim tolerates a random suffix; sandboxes differ, so names must too.
        const id = await docker('create', '--name', `k8s_app_web_default_${uid}_${attempt}_${sb.slice(0, 8)}`, '--network', `container:${sb}`, '--label', 'io.kubernetes.docker.type=container',
          '--label', `io.kubernetes.sandbox.id=${sb}`, '--label', 'io.kubernetes.container.name=app', ...lab(uid), '--label', `annotation.io.kubernetes.container.restartCount=${attempt}`, '--label', `annotation.io.kubernetes.container.hash=${APP_HASH}`, d.images.busybox, '/bin/sleep', '3600');
        await docker('start', id);
        return id;
      },
      kill: async (id) => void (await docker('kill', id)),
      stopSandbox: async (id) => void (await docker('kill', id)),
      removeContainer: async (id) => void (await docker('rm', '-f', id)),
      removeSandbox: async (id) => void (await docker('rm', '-f', id)),
    };
    r = await rig(driver, 'docker');
    await scenario(driver, r);
  }, 180_000);
});

describe('Watch over gRPC on a containerd node (real containerd, CRI)', () => {
  let ctd: ContainerdHandle | undefined;
  let cri: CriClient | undefined;
  let r: Rig | undefined;
  beforeAll(async () => {
    ctd = await startContainerd({ dir: join(tmp, 'containerd') });
    cri = createCriClient({ address: ctd.address, timeoutMs: 20_000 });
  }, 120_000);
  afterAll(async () => {
    await endRig(r);
    cri?.close();
    await ctd?.stop();
  }, 120_000);

  it('streams restart, sandbox, pod and skip-file events, resumes, and refuses an unknown sequence', async () => {
    const c = cri!;
    const specs = new Map<string, PodSandboxSpec>();
    let attemptOfSandbox = 0;
    const driver: Driver = {
      reader: c,
      sandbox: async (uid) => {
        const spec: PodSandboxSpec = { name: 'web', uid, namespace: 'default', attempt: attemptOfSandbox++, labels: labels(uid) };
        const id = await c.runPodSandbox(spec);
        specs.set(id, spec);
        return id;
      },
      container: async (sb, uid, attempt) => {
        const id = await c.createContainer(sb, {
          name: 'app', attempt, image: ctd!.images.busybox, command: ['/bin/sleep', '3600'],
          labels: { ...labels(uid), 'io.kubernetes.container.name': 'app' }, annotations: { 'io.kubernetes.container.restartCount': String(attempt), 'io.kubernetes.container.hash': APP_HASH },
        }, specs.get(sb)!);
        await c.startContainer(id);
        return id;
      },
      kill: (id) => c.stopContainer(id, 0),
      stopSandbox: (id) => c.stopPodSandbox(id),
      removeContainer: (id) => c.removeContainer(id),
      removeSandbox: async (id) => {
        await c.stopPodSandbox(id);
        await c.removePodSandbox(id);
      },
    };
    r = await rig(driver, 'containerd');
    await scenario(driver, r);
  }, 180_000);
});
