import { describe, expect, it } from 'vitest';
import { EventLog, WatchSequenceExpiredError, type NodeEvent, type SequencedEvent } from '../../agent/watch/event-log.ts';
import { NodeWatcher, type KubeletProcess } from '../../agent/watch/node-watcher.ts';
import type { ContainerInfo, ContainerStatusInfo, PodSandboxInfo } from '../../agent/runtime/types.ts';
import { FakeClock } from '../../lib/clock.ts';
import { silentLogger } from '../../lib/logger.ts';

const ev = (detail: string): NodeEvent => ({ kind: 'SKIP_FILE_WRITTEN', observedAtMs: 0, detail });

describe('EventLog', () => {
  it('numbers events and resumes after a sequence', () => {
    const log = new EventLog(10);
    for (const d of ['a', 'b', 'c']) log.append(ev(d));
    expect(log.since(0).map((e) => e.detail)).toEqual(['a', 'b', 'c']);
    expect(log.since(2).map((e) => e.sequence)).toEqual([3]);
    expect(log.since(3)).toEqual([]);
  });

  it('answers a sequence whose successors were dropped, or one from before an agent restart, with WATCH_SEQUENCE_EXPIRED', () => {
    const log = new EventLog(3);
    for (const d of ['a', 'b', 'c', 'd', 'e']) log.append(ev(d));
    expect(log.oldest()).toBe(3);
    expect(log.since(2).map((e) => e.detail)).toEqual(['c', 'd', 'e']);
    expect(() => log.since(1)).toThrow(WatchSequenceExpiredError);
    expect(() => log.since(1)).toThrow(expect.objectContaining({ code: 'WATCH_SEQUENCE_EXPIRED', details: { requested: 1, oldest: 3, latest: 5 } }));
    expect(() => log.since(9)).toThrow(/agent restarted/);
  });

  it('replays, then follows; a subscriber that falls behind the buffer gets the error instead of a gap', async () => {
    const log = new EventLog(2);
    log.append(ev('a'));
    const abort = new AbortController();
    const sub = log.subscribe(0, abort.signal);
    expect((await sub.next()).value).toMatchObject({ sequence: 1 });
    const pending = sub.next();
    log.append(ev('b'));
    expect((await pending).value).toMatchObject({ sequence: 2, detail: 'b' });
    for (const d of ['c', 'd', 'e']) log.append(ev(d));
    await expect(sub.next()).rejects.toBeInstanceOf(WatchSequenceExpiredError);
    const again = log.subscribe(4, abort.signal);
    expect((await again.next()).value).toMatchObject({ sequence: 5 });
    const waiting = again.next();
    abort.abort();
    expect((await waiting).done).toBe(true);
  });
});

describe('NodeWatcher', () => {
  const c = (id: string, name: string, uid: string, state: ContainerInfo['state'] = 'running', attempt = 0, at = 1n): ContainerInfo => ({
    id, podSandboxId: `sb-${uid}`, name, attempt, state, createdAtNs: at, image: 'i', imageRef: 'i',
    labels: { 'io.kubernetes.pod.uid': uid, 'io.kubernetes.pod.name': `pod-${uid}`, 'io.kubernetes.pod.namespace': 'ns', 'io.kubernetes.container.name': name },
    annotations: {},
  });
  const sb = (id: string, uid: string, at = 1n): PodSandboxInfo => ({ id, name: `pod-${uid}`, uid, namespace: 'ns', attempt: 0, state: 'ready', createdAtNs: at, labels: {}, annotations: {} });

  function harness() {
    const state = {
      containers: [c('a1', 'app', 'u1'), c('b1', 'db', 'u2')] as ContainerInfo[],
      sandboxes: [sb('s1', 'u1'), sb('s2', 'u2')] as PodSandboxInfo[],
      skip: undefined as string | undefined,
      kubelet: { active: true, mainPid: 100 } as KubeletProcess,
      fail: false,
    };
    const log = new EventLog(100);
    const watcher = new NodeWatcher({
      reader: {
        listContainers: async () => { if (state.fail) throw new Error('socket gone'); return state.containers; },
        listPodSandboxes: async () => state.sandboxes,
        containerStatus: async (id: string) => ({ id, state: 'exited', exitCode: 137, reason: 'Error' }) as ContainerStatusInfo,
      },
      skipFile: async () => state.skip,
      kubelet: async () => state.kubelet,
      log,
      clock: new FakeClock(1_000),
      logger: silentLogger(),
    });
    return { state, log, watcher };
  }
  const kinds = (events: SequencedEvent[]) => events.map((e) => `${e.kind}${e.containerName ? `:${e.containerName}` : ''}`);

  it('takes a baseline, then reports restarts, deaths, sandboxes, pods gone, the kubelet and the skip file', async () => {
    const { state, log, watcher } = harness();
    await watcher.pollOnce();
    expect(log.latest()).toBe(0);

    state.containers = [c('a1', 'app', 'u1', 'exited'), c('a2', 'app', 'u1', 'running', 1, 2n), c('b1', 'db', 'u2', 'exited')];
    state.skip = 'v1.13.12,1574812800';
    state.kubelet = { active: true, mainPid: 200 };
    await watcher.pollOnce();
    const round = log.since(0);
    expect(kinds(round)).toEqual(['CONTAINER_DIED:app', 'CONTAINER_RESTARTED:app', 'CONTAINER_DIED:db', 'KUBELET_STOPPED', 'KUBELET_STARTED', 'SKIP_FILE_WRITTEN']);
    expect(round[1]).toMatchObject({ podUid: 'u1', beforeId: 'a1', afterId: 'a2', restarts: 1, exitCode: 137, beforeCreatedAtNs: 1n, afterCreatedAtNs: 2n });

    const seen = log.latest();
    state.sandboxes = [sb('s1', 'u1'), sb('s1b', 'u1', 5n)];
    state.containers = [c('a2', 'app', 'u1', 'running', 1, 2n)];
    state.skip = undefined;
    await watcher.pollOnce();
    expect(kinds(log.since(seen))).toEqual(['CONTAINER_REMOVED:db', 'SANDBOX_RECREATED', 'POD_GONE', 'SKIP_FILE_REMOVED']);
    expect(log.since(seen).find((e) => e.kind === 'SANDBOX_RECREATED')).toMatchObject({ podUid: 'u1', beforeId: 's1', afterId: 's1b' });
    expect(log.since(seen).find((e) => e.kind === 'POD_GONE')).toMatchObject({ podUid: 'u2', podName: 'pod-u2' });
  });

  it('reports a change of the kubelet\'s apiserver connections', async () => {
    const counts = { '10.0.0.1:6443': 1 };
    const log = new EventLog(10);
    const seenPids: number[] = [];
    const w = new NodeWatcher({
      reader: { listContainers: async () => [], listPodSandboxes: async () => [], containerStatus: async () => { throw new Error('none'); } },
      skipFile: async () => undefined,
      kubelet: async () => ({ active: true, mainPid: 4242 }),
      connections: async (pid) => { seenPids.push(pid); return { ...counts }; },
      log, clock: new FakeClock(0), logger: silentLogger(),
    });
    await w.pollOnce();
    await w.pollOnce();
    counts['10.0.0.1:6443'] = 10;
    await w.pollOnce();
    expect(log.since(0)).toMatchObject([{ kind: 'APISERVER_CONNECTIONS_CHANGED', detail: '10.0.0.1:6443=10', reason: '10.0.0.1:6443=1' }]);
    expect(seenPids).toEqual([4242, 4242, 4242]);
  });

  it('reports a runtime outage once, keeps its snapshot, and shows what changed meanwhile', async () => {
    const { state, log, watcher } = harness();
    await watcher.pollOnce();
    state.fail = true;
    await watcher.pollOnce();
    await watcher.pollOnce();
    expect(kinds(log.since(0))).toEqual(['RUNTIME_UNAVAILABLE']);
    state.fail = false;
    state.containers = [c('a2', 'app', 'u1', 'running', 1, 2n), c('b1', 'db', 'u2')];
    await watcher.pollOnce();
    expect(kinds(log.since(1))).toEqual(['CONTAINER_RESTARTED:app']);
  });
});
