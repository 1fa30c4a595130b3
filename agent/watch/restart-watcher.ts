/**
 * Polls the runtime's ListContainers (containerd 1.6 does not implement CRI GetContainerEvents)
 * and reports, per (pod uid, container name), containers added, restarted, exited and removed.
 * The first poll is the baseline and reports nothing. A failed poll keeps the last good snapshot,
 * so the next good one still shows everything that changed in between.
 */
import { isKipError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import type { ContainerInfo, RuntimeReader } from '../runtime/types.ts';
import type { Clock } from '../../lib/clock.ts';
import { diffSnapshots, type RestartEvent } from './restart-core.ts';

export type { RestartEvent } from './restart-core.ts';

export { systemClock } from '../../lib/clock.ts';

/** How an exited container ended, from ContainerStatus. */
export interface ExitDetails {
  readonly startedAtNs: bigint;
  readonly finishedAtNs: bigint;
  readonly exitCode: number;
  readonly reason: string;
  readonly restartCount: number | undefined;
}

/** An event as the watcher reports it: the diff event plus, for exits and restarts, how the old container ended. */
export type WatchedEvent = RestartEvent & {
  /** exited: the container's exit; restarted: the previous container's exit (when still known to the runtime). */
  readonly exit?: ExitDetails;
  /** Stable error code when ContainerStatus could not tell (e.g. CRI_NOT_FOUND: already removed). */
  readonly exitUnknown?: string;
};

export interface RestartWatcherOptions {
  readonly reader: Pick<RuntimeReader, 'listContainers' | 'containerStatus'>;
  readonly clock: Clock;
  readonly intervalMs: number;
  readonly logger: Logger;
  readonly onEvent: (event: WatchedEvent) => void;
  /** Called for each failed poll; the loop keeps going. */
  readonly onPollError?: (err: unknown) => void;
}

export class RestartWatcher {
  readonly #opts: RestartWatcherOptions;
  readonly #log: Logger;
  #snapshot: ContainerInfo[] | undefined;
  #abort: AbortController | undefined;
  #loop: Promise<void> | undefined;
  #polls = 0;
  #failedPolls = 0;
  #restarts = 0;

  constructor(opts: RestartWatcherOptions) {
    if (!(opts.intervalMs > 0)) throw new RangeError('intervalMs must be positive');
    this.#opts = opts;
    this.#log = opts.logger.child({ component: 'restart-watcher' });
  }

  /** Counters since construction. */
  stats(): { polls: number; failedPolls: number; restarts: number; baseline: boolean } {
    return { polls: this.#polls, failedPolls: this.#failedPolls, restarts: this.#restarts, baseline: this.#snapshot !== undefined };
  }

  /** One poll: lists containers, diffs against the last snapshot, reports and returns the events. */
  async pollOnce(): Promise<WatchedEvent[]> {
    const next = await this.#opts.reader.listContainers();
    const at = this.#opts.clock.now();
    this.#polls += 1;
    const prev = this.#snapshot;
    this.#snapshot = next;
    if (prev === undefined) {
      this.#log.info({ containers: next.length }, 'restart watcher baseline taken');
      return [];
    }
    const out: WatchedEvent[] = [];
    for (const event of diffSnapshots(prev, next, at)) {
      const enriched = await this.#enrich(event);
      if (event.kind === 'restarted') this.#restarts += event.restarts;
      const level = event.kind === 'restarted' || event.kind === 'exited' ? 'warn' : 'info';
      this.#log[level]({ event: jsonSafe(enriched) }, `container ${event.kind}`);
      out.push(enriched);
      this.#opts.onEvent(enriched);
    }
    return out;
  }

  async #enrich(event: RestartEvent): Promise<WatchedEvent> {
    const id = event.kind === 'exited' ? event.container.id : event.kind === 'restarted' ? event.previous.id : undefined;
    if (id === undefined) return event;
    try {
      const s = await this.#opts.reader.containerStatus(id);
      if (s.state !== 'exited') return event;
      return { ...event, exit: { startedAtNs: s.startedAtNs, finishedAtNs: s.finishedAtNs, exitCode: s.exitCode, reason: s.reason, restartCount: s.restartCount } };
    } catch (err) {
      this.#log.warn({ err, containerId: id }, 'container status for an event unavailable');
      return { ...event, exitUnknown: isKipError(err) ? err.code : 'UNKNOWN' };
    }
  }

  /** Starts the polling loop (first poll immediately). */
  start(): void {
    if (this.#loop !== undefined) return;
    const abort = new AbortController();
    this.#abort = abort;
    this.#loop = (async () => {
      while (!abort.signal.aborted) {
        try {
          await this.pollOnce();
        } catch (err) {
          this.#failedPolls += 1;
          this.#log.error({ err }, 'restart watcher poll failed');
          this.#opts.onPollError?.(err);
        }
        await this.#opts.clock.sleep(this.#opts.intervalMs, abort.signal);
      }
    })();
  }

  /** Stops the loop and waits for the poll in flight. */
  async stop(): Promise<void> {
    this.#abort?.abort();
    await this.#loop;
    this.#loop = undefined;
    this.#abort = undefined;
  }
}

/** bigint fields as strings for the JSON logger. */
function jsonSafe(value: unknown): Record<string, unknown> {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))) as Record<string, unknown>;
}
