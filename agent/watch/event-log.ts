/**
 * The node's event stream behind the Watch RPC: a bounded, sequenced log. A client resumes with
 * the last sequence it saw; when the events after it have been dropped (the buffer wrapped, or the
 * agent restarted and counts again from 1) it gets WATCH_SEQUENCE_EXPIRED, like Kubernetes' 410
 * Gone, instead of a silent gap. A subscriber that falls behind by more than the buffer gets the
 * same error mid-stream.
 */
import { KipError } from '../../lib/errors.ts';

export type NodeEventKind =
  | 'CONTAINER_ADDED'
  | 'CONTAINER_RESTARTED'
  | 'CONTAINER_DIED'
  | 'CONTAINER_REMOVED'
  | 'SANDBOX_RECREATED'
  | 'POD_GONE'
  | 'KUBELET_STARTED'
  | 'KUBELET_STOPPED'
  | 'SKIP_FILE_WRITTEN'
  | 'SKIP_FILE_REMOVED'
  | 'RUNTIME_UNAVAILABLE'
  | 'KUBELET_CONTAINER_DEFINITION_CHANGED'
  | 'KUBELET_KILLING_UNWANTED_POD'
  | 'KUBELET_PREDICATE_FAILED'
  | 'KUBELET_APISERVER_CONNECTION_ERRORS'
  | 'JOURNAL_UNAVAILABLE'
  | 'APISERVER_CONNECTIONS_CHANGED'
  | 'HASH_DRIFT';

export interface NodeEvent {
  readonly kind: NodeEventKind;
  readonly observedAtMs: number;
  readonly podUid?: string;
  readonly podNamespace?: string;
  readonly podName?: string;
  readonly containerName?: string;
  readonly beforeId?: string;
  readonly afterId?: string;
  readonly beforeCreatedAtNs?: bigint;
  readonly afterCreatedAtNs?: bigint;
  readonly restarts?: number;
  readonly exitCode?: number;
  readonly reason?: string;
  readonly detail?: string;
}

export interface SequencedEvent extends NodeEvent {
  readonly sequence: number;
}

export class WatchSequenceExpiredError extends KipError {
  constructor(readonly requested: number, readonly oldest: number, readonly latest: number) {
    super(
      'WATCH_SEQUENCE_EXPIRED',
      requested > latest
        ? `sequence ${requested} is newer than the agent's latest (${latest}): the agent restarted; list again and watch from 0`
        : `events after sequence ${requested} are no longer held (oldest held: ${oldest}); list again and watch from ${oldest - 1}`,
      { requested, oldest, latest },
    );
  }
}

export class EventLog {
  readonly #capacity: number;
  readonly #events: SequencedEvent[] = [];
  #next = 1;
  #waiters: (() => void)[] = [];

  constructor(capacity = 10_000) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    this.#capacity = capacity;
  }

  append(event: NodeEvent): SequencedEvent {
    const e: SequencedEvent = { ...event, sequence: this.#next++ };
    this.#events.push(e);
    if (this.#events.length > this.#capacity) this.#events.splice(0, this.#events.length - this.#capacity);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
    return e;
  }

  /** The sequence of the newest event (0 when none yet). */
  latest(): number {
    return this.#next - 1;
  }

  /** The sequence of the oldest event held (latest + 1 when empty). */
  oldest(): number {
    return this.#events[0]?.sequence ?? this.#next;
  }

  /** Events with a sequence greater than `from`; 0 means every event held. */
  since(from: number): SequencedEvent[] {
    if (!Number.isInteger(from) || from < 0) throw new RangeError(`bad sequence ${from}`);
    return this.#after(from === 0 ? this.oldest() - 1 : from);
  }

  /** Strict: every event after `last` must still be held. */
  #after(last: number): SequencedEvent[] {
    if (last > this.latest() || last < this.oldest() - 1) throw new WatchSequenceExpiredError(last, this.oldest(), this.latest());
    const first = this.#events.findIndex((e) => e.sequence > last);
    return first < 0 ? [] : this.#events.slice(first);
  }

  /** Replays the events after `from`, then follows; ends when `signal` aborts. */
  async *subscribe(from: number, signal: AbortSignal): AsyncGenerator<SequencedEvent> {
    if (!Number.isInteger(from) || from < 0) throw new RangeError(`bad sequence ${from}`);
    let last = from === 0 ? this.oldest() - 1 : from;
    for (;;) {
      const batch = this.#after(last);
      for (const e of batch) {
        if (signal.aborted) return;
        yield e;
        last = e.sequence;
      }
      if (signal.aborted) return;
      // Events appended while the consumer held the batch are read before waiting again.
      if (batch.length > 0) continue;
      await new Promise<void>((resolve) => {
        const done = () => {
          signal.removeEventListener('abort', done);
          resolve();
        };
        this.#waiters.push(done);
        signal.addEventListener('abort', done, { once: true });
      });
      if (signal.aborted) return;
    }
  }
}
