/**
 * Gates from the agents' Watch streams: while a node is in flight (and all through a
 * control-plane step), a container restarted, a sandbox recreated (every container of the pod
 * restarts), a pod gone, or the kubelet killing a pod or failing its admission (an eviction) on
 * any node pauses the run with the reason. The container inventory before/after each node stays
 * as the backstop (./engine.ts).
 *
 * Pure part: which event trips the gate (gateReason) and where to resume after
 * WATCH_SEQUENCE_EXPIRED (resumeAfterExpiry). The adapter (WatchGates) keeps one stream per agent,
 * stores the last sequence seen per node in the run store (a restarted coordinator resumes from
 * it), and reconnects with backoff.
 */
import type { Clock } from '../../lib/clock.ts';
import { isKipError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import type { AgentPort, WatchEvent } from '../fleet/port.ts';
import type { RunStore } from '../store/store.ts';
import { isComponentPod } from './postcheck.ts';

const TRIPPING: Readonly<Partial<Record<WatchEvent['kind'], string>>> = {
  CONTAINER_RESTARTED: 'container restarted',
  SANDBOX_RECREATED: 'pod sandbox recreated (every container of the pod restarted)',
  POD_GONE: 'pod killed',
  KUBELET_KILLING_UNWANTED_POD: 'the kubelet killed a pod',
  KUBELET_PREDICATE_FAILED: 'the kubelet rejected a pod on admission (evicted)',
};

/**
 * Why this event pauses the run, or undefined. Pods of the components being upgraded are expected
 * to restart. A pod gone counts only on a node in flight: elsewhere it is ordinary churn (a Job
 * finished, a Deployment scaled down), while a restart or a kubelet kill counts on any node.
 */
export function gateReason(node: string, e: WatchEvent, inFlight = true): string | undefined {
  const what = TRIPPING[e.kind];
  if (!what) return undefined;
  if (e.kind === 'POD_GONE' && !inFlight) return undefined;
  if (e.podNamespace && e.podName && isComponentPod(e.podNamespace, e.podName)) return undefined;
  const pod = e.podName ? `${e.podNamespace}/${e.podName}${e.containerName ? `/${e.containerName}` : ''}` : e.podUid || 'a pod';
  return `${what} on ${node}: ${pod}${e.reason ? ` (${e.reason})` : ''} [watch seq ${e.sequence}]`;
}

/** After WATCH_SEQUENCE_EXPIRED: the agent restarted (watch from 0) or dropped old events (from oldest - 1). */
export function resumeAfterExpiry(details: Readonly<Record<string, unknown>>): number {
  const requested = Number(details.requested ?? 0);
  const oldest = Number(details.oldest ?? 0);
  const latest = Number(details.latest ?? 0);
  if (!Number.isFinite(oldest) || requested > latest) return 0;
  return Math.max(0, oldest - 1);
}

export interface WatchGateDeps {
  readonly runId: string;
  readonly store: RunStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly agents: ReadonlyMap<string, AgentPort>;
  readonly progress?: (line: string) => void;
}

export class WatchGates {
  private readonly ac = new AbortController();
  private readonly loops: Promise<void>[] = [];
  private reason: string | undefined;
  private active = 0;
  private readonly inFlight = new Map<string, number>();
  private readonly listeners = new Set<() => void>();

  constructor(private readonly deps: WatchGateDeps) {}

  start(): void {
    for (const [node, agent] of this.deps.agents) this.loops.push(this.loop(node, agent));
  }

  /** The gate counts events only while active (a node in flight: name it; a control-plane step): nestable. */
  activate(node?: string): () => void {
    this.active++;
    if (node) this.inFlight.set(node, (this.inFlight.get(node) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.active--;
      if (node) {
        const n = (this.inFlight.get(node) ?? 1) - 1;
        if (n > 0) this.inFlight.set(node, n);
        else this.inFlight.delete(node);
      }
    };
  }

  /** The first reason seen (the run pauses with it); cleared by a new WatchGates on resume. */
  tripped(): string | undefined {
    return this.reason;
  }

  onTrip(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  async stop(): Promise<void> {
    this.ac.abort();
    await Promise.allSettled(this.loops);
  }

  private trip(node: string, reason: string): void {
    const { store, runId, clock } = this.deps;
    store.addEvent({ runId, at: clock.now(), node, kind: 'gate', message: reason });
    if (this.reason) return;
    this.reason = reason;
    this.deps.progress?.(`gate: ${reason}`);
    for (const l of this.listeners) l();
  }

  private async loop(node: string, agent: AgentPort): Promise<void> {
    const { store, runId, clock } = this.deps;
    const log = this.deps.logger.child({ node, component: 'watch-gate' });
    let backoff = 500;
    while (!this.ac.signal.aborted) {
      let from = store.watchCursor(runId, node);
      try {
        for await (const e of agent.watch(from, this.ac.signal)) {
          backoff = 500;
          if (e.sequence <= from) continue;
          if (this.active > 0) {
            const reason = gateReason(node, e, this.inFlight.has(node));
            if (reason) this.trip(node, reason);
          }
          from = e.sequence;
          store.setWatchCursor(runId, node, from);
        }
      } catch (err) {
        if (this.ac.signal.aborted) return;
        if (isKipError(err) && err.code === 'WATCH_SEQUENCE_EXPIRED') {
          // Like a 410 Gone: what happened between is lost to this stream; the inventory
          // diff of each node (the backstop) still sees a restart in that gap.
          const next = resumeAfterExpiry(err.details);
          store.addEvent({ runId, at: clock.now(), node, kind: 'watch-expired', message: `watch from ${from} expired (${err.message}); watching from ${next}` });
          store.setWatchCursor(runId, node, next);
          continue;
        }
        log.warn({ err }, 'watch stream failed; reconnecting');
      }
      await clock.sleep(backoff, this.ac.signal);
      backoff = Math.min(backoff * 2, 10_000);
    }
  }
}
