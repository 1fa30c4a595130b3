/**
 * Follows the kubelet's journal (journalctl -u <unit> -f -o json, through agent/systemd) and turns
 * the lines that matter for an in-place upgrade into events on the Watch stream. journalctl ending
 * (killed, journald restarted) is survived: the follow resumes after the last cursor seen, with a
 * backoff, so no line is lost or repeated. The kubelet lines (kubernetes source, v1.10..v1.17):
 * - "Container <name> definition changed": kuberuntime_manager.go computePodActions, the hash
 *   check that restarts a container whose spec hash differs (what the skip file prevents);
 * - "Killing unwanted pod <name>": kubelet_pods.go podKiller, a pod the kubelet no longer wants
 *   (for instance one it rejected at re-admission);
 * - "Predicate <Name> failed": scheduler predicates' PredicateFailureError.Error(), logged by the
 *   kubelet's admission (lifecycle/predicate.go) when it rejects a pod, e.g. MatchNodeSelector after
 *   a restart with lost node labels;
 * - "use of closed network connection": a broken pooled HTTP/2 connection to the apiserver
 *   (golang/go#34978, kubernetes#87615, fixed by kubernetes PR #100376), counted per minute.
 */
import type { Clock } from '../../lib/clock.ts';
import { isKipError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import type { Journal, JournalEntry } from '../systemd/index.ts';
import type { EventLog, NodeEvent } from './event-log.ts';

export interface JournalWatcherPorts {
  readonly journal: Pick<Journal, 'follow' | 'read'>;
  readonly unit: string;
  readonly log: EventLog;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Backoff after journalctl ends: doubles from minBackoffMs to maxBackoffMs. Defaults 500 ms / 30 s. */
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /**
   * Called for each entry systemd itself wrote about the unit (its UNIT= field: "Stopping",
   * "Stopped", "Started", "Reloading", a stop timeout...): the unit's state changed, so the
   * kubelet probe asks systemd at its next poll (agent/watch/kubelet-probe.ts recheck()).
   */
  readonly onUnitMessage?: () => void;
}

/** What one journal line means, or undefined. Pure. */
export function classifyKubeletLine(e: Pick<JournalEntry, 'message' | 'realtimeUsec'>): NodeEvent | undefined {
  const at = Number(e.realtimeUsec / 1000n);
  const m = e.message;
  let r = /Container (\S+) definition changed/.exec(m);
  if (r) return { kind: 'KUBELET_CONTAINER_DEFINITION_CHANGED', observedAtMs: at, containerName: r[1]!, ...podOf(m), detail: m.slice(0, 500) };
  r = /Killing unwanted pod "?([^"\s]+)"?/.exec(m);
  if (r) return { kind: 'KUBELET_KILLING_UNWANTED_POD', observedAtMs: at, podName: r[1]!, detail: m.slice(0, 500) };
  r = /Predicate (\w+) failed/.exec(m);
  if (r) return { kind: 'KUBELET_PREDICATE_FAILED', observedAtMs: at, reason: r[1]!, ...podOf(m), detail: m.slice(0, 500) };
  return undefined;
}

export const CLOSED_CONNECTION_TEXT = 'use of closed network connection';

/** How many minutes of closed-connection counts are kept for connectionErrors(). */
export const RECENT_MINUTES = 15;

/** `name_namespace(uid)` as format.Pod prints it (pkg/kubelet/util/format/pod.go), quoted (%q) or not (%s). */
function podOf(message: string): { podName?: string; podNamespace?: string; podUid?: string } {
  const r = /(?:^|[\s"])([a-z0-9][-a-z0-9.]*)_([a-z0-9][-a-z0-9]*)\(([^)\s"]+)\)/.exec(message);
  return r ? { podName: r[1]!, podNamespace: r[2]!, podUid: r[3]! } : {};
}

export class JournalWatcher {
  readonly #p: JournalWatcherPorts;
  readonly #log: Logger;
  #cursor: string | undefined;
  #abort: AbortController | undefined;
  #loop: Promise<void> | undefined;
  /** The minute (unix ms, floored) being counted and its count of closed-connection lines. */
  #minute = 0;
  #closedInMinute = 0;
  #restarts = 0;
  /** Closed-connection lines per minute (minute start unix ms -> count, newest last line), the last RECENT_MINUTES. */
  readonly #recent = new Map<number, { count: number; lastAtMs: number }>();

  constructor(ports: JournalWatcherPorts) {
    this.#p = ports;
    this.#log = ports.logger.child({ component: 'journal-watcher', unit: ports.unit });
  }

  /** How often journalctl was started again after ending. */
  get followRestarts(): number {
    return this.#restarts;
  }

  get cursor(): string | undefined {
    return this.#cursor;
  }

  /** Handles one entry (exposed for tests of the counting). */
  accept(e: JournalEntry): void {
    this.#cursor = e.cursor;
    const atMs = Number(e.realtimeUsec / 1000n);
    this.flush(atMs);
    if (e.message.includes(CLOSED_CONNECTION_TEXT)) {
      if (this.#closedInMinute === 0) this.#minute = Math.floor(atMs / 60_000) * 60_000;
      this.#closedInMinute++;
      const minute = Math.floor(atMs / 60_000) * 60_000;
      const r = this.#recent.get(minute) ?? { count: 0, lastAtMs: 0 };
      this.#recent.set(minute, { count: r.count + 1, lastAtMs: Math.max(r.lastAtMs, atMs) });
      for (const m of this.#recent.keys()) if (m < minute - RECENT_MINUTES * 60_000) this.#recent.delete(m);
    }
    // UNIT= is set by systemd on its messages about a unit (sd-messages.h; journalctl -u matches it),
    // never by the unit's own processes, whose entries carry _SYSTEMD_UNIT instead.
    if (e.fields.UNIT === this.#p.unit) this.#p.onUnitMessage?.();
    const ev = classifyKubeletLine(e);
    if (ev) this.#p.log.append(ev);
  }

  /**
   * The closed-connection lines of the last `windowMinutes` minutes (the current one included), for
   * GetNode: the coordinator reports a node that logs them repeatedly while its Node is NotReady.
   */
  connectionErrors(nowMs: number, windowMinutes = 5): { windowMinutes: number; count: number; minutesWithErrors: number; lastAtUnixMs: number } {
    const w = Math.min(windowMinutes, RECENT_MINUTES);
    const from = Math.floor(nowMs / 60_000) * 60_000 - (w - 1) * 60_000;
    let count = 0;
    let minutes = 0;
    let last = 0;
    for (const [m, r] of this.#recent) {
      if (m < from) continue;
      count += r.count;
      minutes++;
      last = Math.max(last, r.lastAtMs);
    }
    return { windowMinutes: w, count, minutesWithErrors: minutes, lastAtUnixMs: last };
  }

  /** Emits the closed-connection count of a finished minute (one before `nowMs`'s). */
  flush(nowMs: number): void {
    if (this.#closedInMinute === 0 || Math.floor(nowMs / 60_000) * 60_000 <= this.#minute) return;
    this.#p.log.append({
      kind: 'KUBELET_APISERVER_CONNECTION_ERRORS', observedAtMs: this.#minute + 60_000, restarts: this.#closedInMinute, reason: CLOSED_CONNECTION_TEXT,
      detail: `${this.#closedInMinute} "${CLOSED_CONNECTION_TEXT}" lines in the minute from ${new Date(this.#minute).toISOString()}; if the Node goes NotReady, restart the kubelet (safe while the skip file is present)`,
    });
    this.#closedInMinute = 0;
  }

  start(): void {
    if (this.#loop) return;
    const abort = new AbortController();
    this.#abort = abort;
    const min = this.#p.minBackoffMs ?? 500;
    const max = this.#p.maxBackoffMs ?? 30_000;
    const flusher = (async () => {
      while (!abort.signal.aborted) {
        await this.#p.clock.sleep(5_000, abort.signal);
        this.flush(this.#p.clock.now());
      }
    })();
    this.#loop = (async () => {
      let backoff = min;
      // Without a cursor, the journal's last entry is the starting point, so nothing written while
      // journalctl starts is missed (--lines=0 would race); an empty unit journal is read from its start.
      let fromStart = false;
      while (!abort.signal.aborted) {
        try {
          if (this.#cursor === undefined && !fromStart) {
            const [last] = await this.#p.journal.read(this.#p.unit, { lines: 1 });
            if (last) this.#cursor = last.cursor;
            else fromStart = true;
          }
          const from = this.#cursor !== undefined ? { afterCursor: this.#cursor } : { fromStart: true };
          for await (const e of this.#p.journal.follow(this.#p.unit, { signal: abort.signal, ...from })) {
            this.accept(e);
            backoff = min;
          }
        } catch (err) {
          if (abort.signal.aborted) break;
          this.#p.log.append({ kind: 'JOURNAL_UNAVAILABLE', observedAtMs: this.#p.clock.now(), reason: isKipError(err) ? err.code : 'UNKNOWN', detail: err instanceof Error ? err.message.slice(0, 500) : String(err) });
          this.#log.warn({ err, backoffMs: backoff }, 'journal follow ended; resuming after the last cursor');
        }
        if (abort.signal.aborted) break;
        await this.#p.clock.sleep(backoff, abort.signal);
        backoff = Math.min(max, backoff * 2);
        this.#restarts++;
      }
      await flusher;
    })();
  }

  async stop(): Promise<void> {
    this.#abort?.abort();
    await this.#loop;
    this.#loop = undefined;
  }
}
