/**
 * The node's eyes (issue 11, "Numbers"). Part 1: restart detected -> CONTAINER_RESTARTED on the
 * gRPC Watch stream (mutual TLS, in-process agent server, the agent's NodeWatcher at the default
 * 1 s poll), median and p99 over KIP_BENCH_EYES_RESTARTS (30) restarts, on a private containerd 1.6
 * (CRI) and a private dockerd 20.10 (dockershim layout), as test/integration/watch-rpc.test.ts.
 * The clock starts when the runtime created the new attempt (its own timestamp); the time
 * from the kill is printed beside it. Baseline, same run: one runtime list (what one poll costs)
 * and half the poll interval, the mean wait of a poll-driven detector. containerd is measured twice
 * on the same instance, side by side: the poll alone, then with containerd's events service
 * waking the watcher (agent/runtime/containerd-events.ts), as the agent runs it.
 * Part 2 (bench/eyes-idle.ts): the whole agent idle with 500 containers on the node.
 */
import * as grpc from '@grpc/grpc-js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAgentHandlers, startAgentServer } from '../agent/server.ts';
import { createWatchHandlers } from '../agent/server-watch.ts';
import { createCriClient } from '../agent/runtime/cri.ts';
import { containerdEvents } from '../agent/runtime/containerd-events.ts';
import { createDockerClient, dockershimReader } from '../agent/runtime/docker.ts';
import type { PodSandboxSpec, RuntimeReader } from '../agent/runtime/types.ts';
import { EventLog } from '../agent/watch/event-log.ts';
import { NodeWatcher } from '../agent/watch/node-watcher.ts';
import { nodeFileSystem } from '../agent/upgrade/fs.ts';
import { StageStore } from '../agent/upgrade/stage.ts';
import { kubeletBinaryPort } from '../agent/upgrade/wiring.ts';
import { systemClock } from '../lib/clock.ts';
import { execaExec } from '../lib/exec.ts';
import { silentLogger } from '../lib/logger.ts';
import { waitFor } from '../lib/poll.ts';
import { loadKipGrpcObject } from '../proto/kip/loader.ts';
import type { ProtoGrpcType } from '../proto/kip/generated/agent.ts';
import type { WatchEvent__Output } from '../proto/kip/generated/kip/v1/WatchEvent.ts';
import { startContainerd } from '../scripts/containerd/containerd.ts';
import { startDockerd } from '../scripts/containerd/dockerd.ts';
import { makeTestPki, type TestPki } from '../scripts/nspawn/test-pki.ts';
import { median, percentile } from './agent-stats.ts';
import { runEyesIdle } from './eyes-idle.ts';

const RESTARTS = Number(process.env.KIP_BENCH_EYES_RESTARTS ?? 30);
const POLL_MS = 1_000;
const labels = (uid: string) => ({ 'io.kubernetes.pod.name': 'web', 'io.kubernetes.pod.namespace': 'default', 'io.kubernetes.pod.uid': uid });

interface Driver {
  readonly reader: RuntimeReader;
  sandbox(uid: string): Promise<string>;
  container(sandboxId: string, uid: string, attempt: number): Promise<string>;
  kill(id: string): Promise<void>;
  remove(id: string): Promise<void>;
}

interface Figures {
  readonly median: number;
  readonly p99: number;
}

async function measure(name: string, driver: Driver, tmp: string, pki: TestPki, wake?: (signal: AbortSignal) => AsyncIterable<unknown>): Promise<Figures> {
  const log = new EventLog(10_000);
  const watcher = new NodeWatcher({ reader: driver.reader, skipFile: async () => undefined, kubelet: async () => ({ active: true, mainPid: 1 }), log, clock: systemClock, intervalMs: POLL_MS, logger: silentLogger(), ...(wake ? { wake, wakeRetryMs: 200 } : {}) });
  const stage = new StageStore({ fs: nodeFileSystem, kubelet: kubeletBinaryPort(execaExec), stateDir: join(tmp, `${name}-state`), skipFilePath: '/tmp/cache.version.save', logger: silentLogger() });
  const { handlersOnlyAgent } = await import('./handlers-agent.ts');
  const handlers = createAgentHandlers(handlersOnlyAgent('n1', 'v1.14.10', stage), stage, silentLogger(), {}, createWatchHandlers({ events: log, logger: silentLogger() }));
  const server = await startAgentServer({ address: '127.0.0.1:0', tls: pki.server, handlers, logger: silentLogger() });
  const proto = loadKipGrpcObject() as unknown as ProtoGrpcType;
  const client = new proto.kip.v1.Agent(`127.0.0.1:${server.port}`, grpc.credentials.createSsl(pki.client.ca, pki.client.key, pki.client.cert), { 'grpc.ssl_target_name_override': 'localhost' });
  const arrived = new Map<string, number>();
  const stream = client.Watch({ fromSequence: 0 });
  stream.on('data', (e: WatchEvent__Output) => {
    if (e.kind === 'CONTAINER_RESTARTED' || e.kind === 'CONTAINER_ADDED') arrived.set(`${e.kind} ${e.afterId}`, Date.now());
  });
  stream.on('error', () => undefined);
  watcher.start();
  try {
    await waitFor('the watcher baseline', async () => (watcher.polls >= 1 ? true : undefined), { timeoutMs: 20_000 });
    const uid = `uid-bench-${name.replace(/\W+/g, '-').replace(/-+$/, '')}`;
    const sb = await driver.sandbox(uid);
    let current = await driver.container(sb, uid, 0);
    await waitFor('CONTAINER_ADDED of the first attempt', async () => arrived.get(`CONTAINER_ADDED ${current}`), { timeoutMs: 30_000, intervalMs: 5 });
    let previous: string | undefined;
    const fromStart: number[] = [];
    const fromKill: number[] = [];
    const lists: number[] = [];
    for (let i = 1; i <= RESTARTS; i++) {
      const l0 = performance.now();
      await driver.reader.listContainers();
      lists.push(performance.now() - l0);
      // A random phase against the watcher's poll: right after an event the next poll is a
      // whole interval away, so back-to-back restarts would all wait about the same.
      await systemClock.sleep(Math.random() * POLL_MS);
      const killedAt = Date.now();
      await driver.kill(current);
      const next = await driver.container(sb, uid, i);
      const at = await waitFor(`CONTAINER_RESTARTED for attempt ${i}`, async () => arrived.get(`CONTAINER_RESTARTED ${next}`), { timeoutMs: 30_000, intervalMs: 5 });
      // The restart happened when the runtime created the new attempt (its own time, ns: the
      // docker CLI returns long after the daemon acted, and the watcher reports the new attempt
      // as soon as it is listed, started or not).
      const runningAt = Number((await driver.reader.containerStatus(next)).createdAtNs / 1_000_000n);
      fromStart.push(at - runningAt);
      fromKill.push(at - killedAt);
      // The kubelet keeps the last dead attempt and garbage-collects older ones.
      if (previous) await driver.remove(previous);
      previous = current;
      current = next;
    }
    const ms = (v: number) => `${Math.round(v)} ms`;
    process.stdout.write(`${name}: restart -> CONTAINER_RESTARTED on the Watch stream (poll ${POLL_MS} ms, n=${RESTARTS}): median ${ms(median(fromStart))}, p99 ${ms(percentile(fromStart, 99))}, max ${ms(Math.max(...fromStart))} | from the kill: median ${ms(median(fromKill))}, p99 ${ms(percentile(fromKill, 99))} (goal: median under 1 s)\n`);
    process.stdout.write(`${name} baseline, same run: one runtime list median ${ms(median(lists))}; a poll-driven detector waits poll/2 = ${ms(POLL_MS / 2)} on average | median / (poll/2 + list) ${(median(fromStart) / (POLL_MS / 2 + median(lists))).toFixed(2)}x${wake ? ` | ${watcher.wakeups} wakes, ${watcher.polls} polls` : ''}\n`);
    return { median: median(fromStart), p99: percentile(fromStart, 99) };
  } finally {
    stream.cancel();
    client.close();
    await watcher.stop();
    await server.shutdown(1_000);
  }
}

export async function runEyesBench(): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'kip-bench-eyes-'));
  try {
    const pki = await makeTestPki(join(tmp, 'pki'));
    if (process.env.KIP_BENCH_EYES_PARTS !== 'idle') {
      const ctd = await startContainerd({ dir: join(tmp, 'containerd') });
      const cri = createCriClient({ address: ctd.address, timeoutMs: 20_000 });
      try {
        const specs = new Map<string, PodSandboxSpec>();
        const driver: Driver = {
          reader: cri,
          sandbox: async (uid) => {
            const spec: PodSandboxSpec = { name: 'web', uid, namespace: 'default', attempt: 0, labels: labels(uid) };
            const id = await cri.runPodSandbox(spec);
            specs.set(id, spec);
            return id;
          },
          container: async (sb, uid, attempt) => {
            const id = await cri.createContainer(sb, {
              name: 'app', attempt, image: ctd.images.busybox, command: ['/bin/sleep', '3600'],
              labels: { ...labels(uid), 'io.kubernetes.container.name': 'app' }, annotations: { 'io.kubernetes.container.restartCount': String(attempt) },
            }, specs.get(sb)!);
            await cri.startContainer(id);
            return id;
          },
          kill: (id) => cri.stopContainer(id, 0),
          remove: (id) => cri.removeContainer(id),
        };
        // Side by side on one containerd: the poll alone, then containerd's events waking it.
        const polled = await measure('containerd (CRI), poll only', driver, tmp, pki);
        const woken = await measure('containerd (CRI) + events', driver, tmp, pki, (signal) => containerdEvents(ctd.address, signal));
        const ms = (v: number) => `${Math.round(v)} ms`;
        process.stdout.write(`containerd restart -> Watch event, poll ${POLL_MS} ms: poll only median ${ms(polled.median)} p99 ${ms(polled.p99)} | with containerd events median ${ms(woken.median)} p99 ${ms(woken.p99)} (${(woken.median / polled.median).toFixed(2)}x)\n`);
      } finally {
        cri.close();
        await ctd.stop();
      }
      const d = await startDockerd({ dir: join(tmp, 'dockerd') });
      try {
        const docker = async (...args: string[]) => {
          const res = await d.docker(args);
          if (res.exitCode !== 0) throw new Error(`docker ${args.join(' ')}: ${res.stderr}`);
          return res.stdout.trim();
        };
        const lab = (uid: string) => Object.entries(labels(uid)).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
        await measure('dockerd (dockershim)', {
          reader: dockershimReader(createDockerClient({ socketPath: `unix://${d.socket}`, timeoutMs: 20_000 })),
          sandbox: (uid) => docker('run', '-d', '--name', `k8s_POD_web_default_${uid}_0`, '--network', 'none', '--label', 'io.kubernetes.docker.type=podsandbox', ...lab(uid), d.images.pause),
          container: async (sb, uid, attempt) => {
            const id = await docker('create', '--name', `k8s_app_web_default_${uid}_${attempt}_${sb.slice(0, 8)}`, '--network', `container:${sb}`, '--label', 'io.kubernetes.docker.type=container',
              '--label', `io.kubernetes.sandbox.id=${sb}`, '--label', 'io.kubernetes.container.name=app', ...lab(uid), '--label', `annotation.io.kubernetes.container.restartCount=${attempt}`, d.images.busybox, '/bin/sleep', '3600');
            await docker('start', id);
            return id;
          },
          kill: async (id) => void (await docker('kill', id)),
          remove: async (id) => void (await docker('rm', '-f', id)),
        }, tmp, pki);
      } finally {
        await d.stop();
      }
    }
    if (process.env.KIP_BENCH_EYES_PARTS !== 'restart') await runEyesIdle(tmp, pki);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
