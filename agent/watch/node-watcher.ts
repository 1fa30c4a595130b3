/**
 * Polls what the node runs and appends what changed to the EventLog behind the Watch RPC:
 * containers (restart-core's diff per pod uid and container name), sandboxes (a new sandbox for a
 * pod uid: every container of the pod restarts), pods gone, the kubelet (started, stopped, new
 * MainPID) and the skip file (written, changed, removed). ListContainers is polled because
 * containerd 1.6 has no CRI GetContainerEvents. The first poll is the baseline. A failed runtime
 * call is an event (RUNTIME_UNAVAILABLE, once per outage) and keeps the last good snapshot, so the
 * next good poll still reports everything that changed in between.
 */
import { isKipError } from '../../lib/errors.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import { KubeLabel } from '../runtime/kube-labels.ts';
import type { ContainerInfo, PodSandboxInfo, RuntimeReader } from '../runtime/types.ts';
import { STREAM_LIVE } from '../runtime/containerd-events.ts';
import type { EventLog, NodeEvent } from './event-log.ts';
import { diffSnapshots, type RestartEvent } from './restart-core.ts';

export interface KubeletProcess {
  readonly active: boolean;
  readonly mainPid: number;
}

export interface NodeWatcherPorts {
  readonly reader: Pick<RuntimeReader, 'listContainers' | 'listPodSandboxes' | 'containerStatus'>;
  /** The skip file's content; undefined when absent. */
  readonly skipFile: () => Promise<string | undefined>;
  readonly kubelet: () => Promise<KubeletProcess>;
  /** Established connections of the kubelet per apiserver endpoint (agent/watch/connections.ts); optional. */
  readonly connections?: (kubeletPid: number) => Promise<Record<string, number>>;
  readonly log: EventLog;
  readonly clock: Clock;
  /** Default 1000 ms (issue 11: a restart on the stream within a second or two). */
  readonly intervalMs?: number;
  /**
   * Optional runtime event stream (Docker's /events on dockershim nodes, containerd's event
   * service on containerd nodes): each item makes the watcher poll at once instead of at its next
   * tick. It ending or failing falls back to polling alone, and it is opened again after
   * wakeRetryMs (default 5000).
   */
  readonly wake?: (signal: AbortSignal) => AsyncIterable<unknown>;
  readonly wakeRetryMs?: number;
  /** The retry delay doubles after each failure up to this (default 60000); an event resets it. */
  readonly wakeRetryMaxMs?: number;
  /**
   * After a woken poll that showed no runtime change, poll again after each of these delays until
   * one does (default WAKE_FOLLOW_UP_MS). containerd publishes /tasks/exit before its CRI plugin
   * records the exit, so the poll at the event can still list the container running.
   */
  readonly wakeFollowUpMs?: readonly number[];
  /**
   * While the wake stream has said it is live (it yielded STREAM_LIVE: containerd's events, whose
   * probe came back, so every change CRI lists now comes with an event), a tick with no event since
   * the last list skips ListContainers/ListPodSandboxes; a full list still runs every fullListMs.
   * Without it (and on Docker nodes) every tick lists.
   */
  readonly eventsCoverRuntime?: { readonly fullListMs: number };
  readonly logger: Logger;
}

interface Snapshot {
  readonly containers: readonly ContainerInfo[];
  readonly sandboxes: readonly PodSandboxInfo[];
}

/** About 3 s in all: the CRI plugin records a change within milliseconds, more under load. */
export const WAKE_FOLLOW_UP_MS: readonly number[] = [20, 50, 100, 200, 400, 800, 1_600];

/** What a poll compares to tell whether the runtime changed: ids and states. */
function runtimeSignature(s: Snapshot): string {
  let out = '';
  for (const c of s.containers) out += `${c.id}:${c.state};`;
  out += '|';
  for (const b of s.sandboxes) out += `${b.id}:${b.state};`;
  return out;
}

const CONTAINER_KIND = { added: 'CONTAINER_ADDED', restarted: 'CONTAINER_RESTARTED', exited: 'CONTAINER_DIED', removed: 'CONTAINER_REMOVED' } as const;

export class NodeWatcher {
  readonly #p: NodeWatcherPorts;
  readonly #log: Logger;
  #runtime: Snapshot | undefined;
  #runtimeSignature: string | undefined;
  /** The wake stream is live (STREAM_LIVE seen, not failed since). */
  #streamLive = false;
  /** An event (or a follow-up) asks for a list since the last one. */
  #runtimeDirty = true;
  #lastListAt = Number.NEGATIVE_INFINITY;
  #skippedLists = 0;
  #skip: { value: string | undefined } | undefined;
  #kubelet: KubeletProcess | undefined;
  #connections: string | undefined;
  #connectionCounts: Readonly<Record<string, number>> | undefined;
  #runtimeDown = false;
  /** The newest sandbox seen per pod uid, across polls: a sandbox recreated while the pod had none in between is still a recreation. */
  readonly #sandboxOf = new Map<string, PodSandboxInfo>();
  #abort: AbortController | undefined;
  #loop: Promise<void> | undefined;
  #polls = 0;
  #wakeups = 0;
  #wakeRequested = false;
  /** A runtime event asked for the poll: chase its change with follow-up polls. */
  #chaseRequested = false;
  #sleepAbort: AbortController | undefined;
  #wakeLoop: Promise<void> | undefined;

  constructor(ports: NodeWatcherPorts) {
    if (ports.intervalMs !== undefined && !(ports.intervalMs > 0)) throw new RangeError('intervalMs must be positive');
    this.#p = ports;
    this.#log = ports.logger.child({ component: 'node-watcher' });
  }

  get polls(): number {
    return this.#polls;
  }

  /** Ticks whose runtime list was skipped (eventsCoverRuntime). */
  get skippedLists(): number {
    return this.#skippedLists;
  }

  /** Runtime events that triggered a poll. */
  get wakeups(): number {
    return this.#wakeups;
  }

  #wake(): void {
    this.#wakeups++;
    this.#runtimeDirty = true;
    this.#chaseRequested = true;
    this.#pollNow();
  }

  #pollNow(): void {
    this.#wakeRequested = true;
    this.#sleepAbort?.abort();
  }

  #emit(e: NodeEvent): void {
    const s = this.#p.log.append(e);
    this.#log.info({ sequence: s.sequence, kind: e.kind, pod: e.podName, container: e.containerName }, 'node event');
  }

  /** One round: runtime, kubelet, skip file. Never throws for a failing source; it is reported. */
  async pollOnce(): Promise<void> {
    const at = this.#p.clock.now();
    await this.#pollRuntime(at);
    await this.#pollKubelet(at);
    await this.#pollSkipFile(at);
    await this.#pollConnections(at);
    this.#polls++;
  }

  async #pollRuntime(at: number): Promise<void> {
    const cover = this.#p.eventsCoverRuntime;
    if (cover && this.#streamLive && !this.#runtimeDirty && this.#runtime && !this.#runtimeDown && at - this.#lastListAt < cover.fullListMs) {
      this.#skippedLists++;
      return;
    }
    // Cleared before the list: an event that comes during it asks for the next one.
    this.#runtimeDirty = false;
    this.#lastListAt = at;
    let next: Snapshot;
    try {
      const [containers, sandboxes] = await Promise.all([this.#p.reader.listContainers(), this.#p.reader.listPodSandboxes()]);
      next = { containers, sandboxes };
    } catch (err) {
      this.#runtimeDirty = true;
      if (!this.#runtimeDown) this.#emit({ kind: 'RUNTIME_UNAVAILABLE', observedAtMs: at, reason: isKipError(err) ? err.code : 'UNKNOWN', detail: err instanceof Error ? err.message : String(err) });
      this.#runtimeDown = true;
      return;
    }
    this.#runtimeDown = false;
    const prev = this.#runtime;
    this.#runtime = next;
    this.#runtimeSignature = runtimeSignature(next);
    if (!prev) {
      sandboxEvents(this.#sandboxOf, [], next.sandboxes, at);
      return;
    }
    for (const e of diffSnapshots(prev.containers, next.containers, at)) this.#emit(await this.#containerEvent(e));
    for (const e of sandboxEvents(this.#sandboxOf, prev.sandboxes, next.sandboxes, at)) this.#emit(e);
    for (const e of podsGone(prev, next, at)) this.#emit(e);
  }

  async #containerEvent(e: RestartEvent): Promise<NodeEvent> {
    const pod = { podUid: e.podUid, podNamespace: e.podNamespace, podName: e.podName, containerName: e.containerName };
    const base = { kind: CONTAINER_KIND[e.kind], observedAtMs: e.observedAtMs, ...pod };
    if (e.kind === 'added') return { ...base, afterId: e.container.id, afterCreatedAtNs: e.container.createdAtNs };
    if (e.kind === 'removed') return { ...base, beforeId: e.container.id, beforeCreatedAtNs: e.container.createdAtNs };
    const endedId = e.kind === 'exited' ? e.container.id : e.previous.id;
    const exit = await this.#exitOf(endedId);
    if (e.kind === 'exited') return { ...base, beforeId: e.container.id, beforeCreatedAtNs: e.container.createdAtNs, ...exit };
    return { ...base, beforeId: e.previous.id, afterId: e.current.id, beforeCreatedAtNs: e.previous.createdAtNs, afterCreatedAtNs: e.current.createdAtNs, restarts: e.restarts, ...exit };
  }

  async #exitOf(id: string): Promise<{ exitCode?: number; reason?: string }> {
    try {
      const s = await this.#p.reader.containerStatus(id);
      return s.state === 'exited' ? { exitCode: s.exitCode, reason: s.reason } : {};
    } catch (err) {
      return { reason: isKipError(err) ? err.code : 'UNKNOWN' };
    }
  }

  async #pollKubelet(at: number): Promise<void> {
    let k: KubeletProcess;
    try {
      k = await this.#p.kubelet();
    } catch (err) {
      this.#log.warn({ err }, 'kubelet state unavailable');
      return;
    }
    const prev = this.#kubelet;
    this.#kubelet = k;
    if (!prev) return;
    const wasUp = prev.active && prev.mainPid > 0;
    const isUp = k.active && k.mainPid > 0;
    if (wasUp && (!isUp || prev.mainPid !== k.mainPid)) this.#emit({ kind: 'KUBELET_STOPPED', observedAtMs: at, detail: `pid ${prev.mainPid}` });
    if (isUp && (!wasUp || prev.mainPid !== k.mainPid)) this.#emit({ kind: 'KUBELET_STARTED', observedAtMs: at, detail: `pid ${k.mainPid}` });
  }

  async #pollConnections(at: number): Promise<void> {
    const pid = this.#kubelet?.mainPid ?? 0;
    if (!this.#p.connections) return;
    if (pid <= 0 || !this.#kubelet?.active) {
      this.#connectionCounts = undefined;
      return;
    }
    let text: string;
    try {
      const counts = await this.#p.connections(pid);
      text = Object.entries(counts).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${v}`).join(',');
      this.#connectionCounts = { ...counts };
    } catch (err) {
      this.#connectionCounts = undefined;
      this.#log.warn({ err }, 'kubelet connections unreadable');
      return;
    }
    const prev = this.#connections;
    this.#connections = text;
    if (prev !== undefined && prev !== text) this.#emit({ kind: 'APISERVER_CONNECTIONS_CHANGED', observedAtMs: at, detail: text, reason: prev });
  }

  /** The last connection counts read per endpoint; undefined when unknown (no read yet, no kubelet, unreadable). */
  get connectionCounts(): Readonly<Record<string, number>> | undefined {
    return this.#connectionCounts;
  }

  /** The last connection counts read, "endpoint=count,..." (undefined before the first read). */
  get connections(): string | undefined {
    return this.#connections;
  }

  async #pollSkipFile(at: number): Promise<void> {
    let value: string | undefined;
    try {
      value = await this.#p.skipFile();
    } catch (err) {
      this.#log.warn({ err }, 'skip file unreadable');
      return;
    }
    const prev = this.#skip;
    this.#skip = { value };
    if (!prev || prev.value === value) return;
    if (value === undefined) this.#emit({ kind: 'SKIP_FILE_REMOVED', observedAtMs: at, detail: prev.value ?? '' });
    else this.#emit({ kind: 'SKIP_FILE_WRITTEN', observedAtMs: at, detail: value });
  }

  start(): void {
    if (this.#loop) return;
    const abort = new AbortController();
    this.#abort = abort;
    const followUps = this.#p.wakeFollowUpMs ?? WAKE_FOLLOW_UP_MS;
    this.#loop = (async () => {
      // Index into followUps while a wake's change has not shown yet; -1 when not chasing one.
      let chase = -1;
      while (!abort.signal.aborted) {
        if (this.#chaseRequested) chase = 0;
        this.#wakeRequested = false;
        this.#chaseRequested = false;
        const before = this.#runtimeSignature;
        try {
          await this.pollOnce();
        } catch (err) {
          this.#log.error({ err }, 'node watcher poll failed');
        }
        // An event that came during the poll is served by another poll right away.
        if (this.#wakeRequested) continue;
        let delayMs = this.#p.intervalMs ?? 1_000;
        if (chase >= 0) {
          const step = followUps[chase];
          if (this.#runtimeSignature !== before || step === undefined) chase = -1;
          else {
            delayMs = Math.min(delayMs, step);
            chase++;
            // The follow-up lists even though no new event came.
            this.#runtimeDirty = true;
          }
        }
        // stop() during the poll aborted before the listener below exists: an aborted signal fires
        // no listener added later, so the loop would sleep out its whole interval.
        if (abort.signal.aborted) break;
        const sleep = new AbortController();
        this.#sleepAbort = sleep;
        const stop = () => sleep.abort();
        abort.signal.addEventListener('abort', stop, { once: true });
        await this.#p.clock.sleep(delayMs, sleep.signal);
        abort.signal.removeEventListener('abort', stop);
        this.#sleepAbort = undefined;
      }
    })();
    const wake = this.#p.wake;
    if (wake) {
      const firstRetry = this.#p.wakeRetryMs ?? 5_000;
      const maxRetry = Math.max(firstRetry, this.#p.wakeRetryMaxMs ?? 60_000);
      this.#wakeLoop = (async () => {
        let retry = firstRetry;
        while (!abort.signal.aborted) {
          try {
            for await (const item of wake(abort.signal)) {
              if (abort.signal.aborted) break;
              retry = firstRetry;
              if (item === STREAM_LIVE) {
                // Live from here: one full list now, then events say when to list.
                this.#streamLive = true;
                this.#runtimeDirty = true;
                this.#pollNow();
              } else this.#wake();
            }
          } catch (err) {
            if (!abort.signal.aborted) this.#log.warn({ err, retryMs: retry }, 'runtime event stream failed: polling alone until it is back');
          }
          this.#streamLive = false;
          this.#runtimeDirty = true;
          if (abort.signal.aborted) break;
          await this.#p.clock.sleep(retry, abort.signal);
          retry = Math.min(maxRetry, retry * 2);
          // Events of the outage are lost: one poll as the stream opens again looks at them.
          if (!abort.signal.aborted) this.#pollNow();
        }
      })();
    }
  }

  async stop(): Promise<void> {
    this.#abort?.abort();
    await Promise.all([this.#loop, this.#wakeLoop]);
    this.#loop = undefined;
    this.#wakeLoop = undefined;
  }
}

/** Sandboxes remembered per pod uid (the newest); older entries are forgotten beyond this many pods. */
const SANDBOX_MEMORY = 5_000;

/**
 * A pod uid whose newest sandbox is one not seen before, while an older one is remembered: the
 * kubelet killed the pod's sandbox and made another. `memory` (newest sandbox per uid) is updated.
 */
export function sandboxEvents(memory: Map<string, PodSandboxInfo>, prev: readonly PodSandboxInfo[], next: readonly PodSandboxInfo[], at: number): NodeEvent[] {
  const newer = (a: PodSandboxInfo, b: PodSandboxInfo) => a.createdAtNs > b.createdAtNs || (a.createdAtNs === b.createdAtNs && a.attempt > b.attempt);
  const newest = new Map<string, PodSandboxInfo>();
  for (const s of next) {
    const cur = newest.get(s.uid);
    if (!cur || newer(s, cur)) newest.set(s.uid, s);
  }
  const prevIds = new Set(prev.map((s) => s.id));
  const out: NodeEvent[] = [];
  for (const [uid, s] of newest) {
    const old = memory.get(uid);
    if (old && old.id !== s.id && !prevIds.has(s.id) && !newer(old, s)) {
      out.push({
        kind: 'SANDBOX_RECREATED', observedAtMs: at, podUid: uid, podNamespace: s.namespace, podName: s.name,
        beforeId: old.id, afterId: s.id, beforeCreatedAtNs: old.createdAtNs, afterCreatedAtNs: s.createdAtNs, restarts: 1,
      });
    }
    if (!old || old.id !== s.id) {
      memory.delete(uid);
      memory.set(uid, s);
    }
  }
  while (memory.size > SANDBOX_MEMORY) memory.delete(memory.keys().next().value as string);
  return out;
}

/** Pod uids that had containers or sandboxes and now have neither. */
export function podsGone(prev: Snapshot, next: Snapshot, at: number): NodeEvent[] {
  const uids = (s: Snapshot) => {
    const m = new Map<string, { ns: string; name: string }>();
    for (const sb of s.sandboxes) m.set(sb.uid, { ns: sb.namespace, name: sb.name });
    for (const c of s.containers) {
      const uid = c.labels[KubeLabel.podUid];
      if (uid && !m.has(uid)) m.set(uid, { ns: c.labels[KubeLabel.podNamespace] ?? '', name: c.labels[KubeLabel.podName] ?? '' });
    }
    return m;
  };
  const after = uids(next);
  return [...uids(prev)].filter(([uid]) => !after.has(uid)).map(([uid, p]) => ({ kind: 'POD_GONE' as const, observedAtMs: at, podUid: uid, podNamespace: p.ns, podName: p.name }));
}
