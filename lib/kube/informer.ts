/**
 * A list + watch cache of one resource (what client-go's Reflector and Informer do), over a
 * ListWatch source: list once, then watch from the list's resourceVersion and apply every event
 * in order; a watch that ends or drops is started again from the last resourceVersion seen (no
 * list); a watch answered 410 Gone (an ERROR event with a Status of code 410, or the request
 * refused with 410) clears the cache's footing and lists again, as the Kubernetes API concepts
 * ("Efficient detection of changes") require: "clients must handle the case by recognizing the
 * status code 410 Gone, clearing their local cache, performing a new get or list operation, and
 * starting the watch from the resourceVersion that was returned". A relist is applied as a diff
 * against what was cached (DELETED for what went away, ADDED/MODIFIED for the rest), so a handler
 * sees every change once whichever way it arrived.
 *
 * resourceVersions are opaque (api-conventions.md, "Concurrency Control and Consistency": clients
 * must not compare them for order), so they are only passed back, never compared: the events'
 * order on the stream is the order of the changes.
 */
import type { Clock } from '../clock.ts';
import type { Logger } from '../logger.ts';

export interface Listed<T> {
  readonly items: readonly T[];
  readonly resourceVersion: string;
}

/** One watch stream, already accepted by the server. */
export interface WatchStream {
  stop(): void;
  /** Resolves when the stream ends: undefined when the server closed it cleanly, else the error. */
  readonly ended: Promise<Error | undefined>;
}

export interface ListWatch<T> {
  list(): Promise<Listed<T>>;
  /** Watches from resourceVersion (exclusive); onEvent gets the raw type and object in stream order. */
  watch(resourceVersion: string, onEvent: (type: string, object: unknown) => void): Promise<WatchStream>;
}

export type InformerEvent = 'ADDED' | 'MODIFIED' | 'DELETED';
export type InformerHandler<T> = (type: InformerEvent, object: T, old: T | undefined) => void;

export interface InformerStats {
  readonly lists: number;
  readonly watches: number;
  /** Watches answered 410 Gone (each followed by a list). */
  readonly gone: number;
  /** Watches that ended (cleanly or not) and were started again. */
  readonly dropped: number;
  readonly events: number;
}

interface Meta {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

/** Status code 410 on an error thrown by the source (KubeApiError.status, or a 410 in a Status). */
export function isGone(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { status?: unknown; code?: unknown };
  return e.status === 410 || e.code === 410 || e.code === 'KUBE_GONE';
}

export class GoneError extends Error {
  readonly status = 410;
  constructor(message: string) {
    super(message);
    this.name = 'GoneError';
  }
}

export interface InformerOptions<T> {
  readonly source: ListWatch<T>;
  readonly clock: Clock;
  readonly logger: Logger;
  /** What the resource is called in logs. */
  readonly what: string;
  /** Backoff after a failed list or watch: doubling from this (default 200 ms) up to maxBackoffMs (default 10 s). */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
}

export const keyOf = (o: Meta): string => (o.metadata?.namespace ? `${o.metadata.namespace}/${o.metadata.name ?? ''}` : o.metadata?.name ?? '');

export class Informer<T extends Meta> {
  readonly #o: InformerOptions<T>;
  readonly #items = new Map<string, T>();
  readonly #handlers = new Set<InformerHandler<T>>();
  readonly #stop = new AbortController();
  #stream: WatchStream | undefined;
  #rv: string | undefined;
  #stats = { lists: 0, watches: 0, gone: 0, dropped: 0, events: 0 };
  #synced: Promise<void>;
  #resolveSynced: () => void = () => undefined;
  #running: Promise<void> | undefined;
  #live = false;

  constructor(options: InformerOptions<T>) {
    this.#o = options;
    this.#synced = new Promise<void>((resolve) => {
      this.#resolveSynced = resolve;
    });
  }

  /** Starts listing and watching; resolves once the first list is in the cache and its watch is open. */
  start(): Promise<void> {
    this.#running ??= this.#run();
    return this.#synced;
  }

  /** Ends the watch; the cache keeps its last contents. */
  async stop(): Promise<void> {
    this.#stop.abort();
    this.#stream?.stop();
    await this.#running;
  }

  get(key: string): T | undefined {
    return this.#items.get(key);
  }

  values(): IterableIterator<T> {
    return this.#items.values();
  }

  get size(): number {
    return this.#items.size;
  }

  get stats(): InformerStats {
    return { ...this.#stats };
  }

  /**
   * A watch is open: the cache follows the server. False before the first watch, between a drop
   * and the next watch, and after stop(): the cache then holds what was true when it last followed.
   */
  get live(): boolean {
    return this.#live;
  }

  /** The last resourceVersion the cache is at (undefined before the first list or after a 410). */
  get resourceVersion(): string | undefined {
    return this.#rv;
  }

  /** Called for every change, in order, after the cache holds it. Returns the unsubscribe. */
  on(handler: InformerHandler<T>): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  #emit(type: InformerEvent, obj: T, old: T | undefined): void {
    this.#stats.events++;
    for (const h of this.#handlers) {
      try {
        h(type, obj, old);
      } catch (err) {
        this.#o.logger.warn({ err, what: this.#o.what }, 'an informer handler threw');
      }
    }
  }

  #replace(items: readonly T[]): void {
    const fresh = new Map(items.map((i) => [keyOf(i), i]));
    for (const [k, old] of [...this.#items]) {
      if (fresh.has(k)) continue;
      this.#items.delete(k);
      this.#emit('DELETED', old, old);
    }
    for (const [k, obj] of fresh) {
      const old = this.#items.get(k);
      this.#items.set(k, obj);
      if (old?.metadata?.resourceVersion !== undefined && old.metadata.resourceVersion === obj.metadata?.resourceVersion) continue;
      this.#emit(old ? 'MODIFIED' : 'ADDED', obj, old);
    }
  }

  /** Applies one watch event; returns 'gone' on a 410 ERROR, 'error' on another ERROR. */
  #apply(type: string, object: unknown): 'ok' | 'gone' | 'error' {
    if (type === 'ERROR') {
      const code = (object as { code?: unknown } | null)?.code;
      this.#o.logger.debug({ what: this.#o.what, status: object }, 'watch ERROR event');
      return code === 410 ? 'gone' : 'error';
    }
    const obj = object as T;
    const rv = obj?.metadata?.resourceVersion;
    if (type === 'BOOKMARK') {
      if (rv) this.#rv = rv;
      return 'ok';
    }
    const k = keyOf(obj);
    const old = this.#items.get(k);
    if (type === 'DELETED') {
      this.#items.delete(k);
      this.#emit('DELETED', obj, old);
    } else if (type === 'ADDED' || type === 'MODIFIED') {
      this.#items.set(k, obj);
      this.#emit(old ? 'MODIFIED' : 'ADDED', obj, old);
    } else return 'ok';
    if (rv) this.#rv = rv;
    return 'ok';
  }

  async #run(): Promise<void> {
    const { clock, logger, what } = this.#o;
    const base = this.#o.backoffMs ?? 200;
    const max = this.#o.maxBackoffMs ?? 10_000;
    let backoff = base;
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      try {
        if (this.#rv === undefined) {
          const listed = await this.#o.source.list();
          this.#stats.lists++;
          if (signal.aborted) break;
          this.#replace(listed.items);
          this.#rv = listed.resourceVersion;
        }
        const st: { verdict: 'ok' | 'gone' | 'error' } = { verdict: 'ok' };
        let applied = 0;
        const stream = await this.#o.source.watch(this.#rv, (type, object) => {
          if (st.verdict !== 'ok') return;
          st.verdict = this.#apply(type, object);
          applied++;
          if (st.verdict !== 'ok') this.#stream?.stop();
        });
        this.#stats.watches++;
        this.#stream = stream;
        this.#live = true;
        this.#resolveSynced();
        if (signal.aborted || st.verdict !== 'ok') stream.stop();
        const err = await stream.ended;
        this.#live = false;
        this.#stream = undefined;
        // A stream that delivered events was healthy: its drop starts the backoff over.
        if (applied > 0) backoff = base;
        if (signal.aborted) break;
        if (st.verdict === 'gone' || isGone(err)) {
          this.#stats.gone++;
          logger.info({ what, resourceVersion: this.#rv }, 'watch answered 410 Gone: listing again');
          this.#rv = undefined;
          backoff = base;
          continue;
        }
        this.#stats.dropped++;
        if (err === undefined && st.verdict === 'ok') {
          // The server ended the stream (its timeout): watch again from where it stopped.
          backoff = base;
          continue;
        }
        logger.warn({ err, what }, 'watch ended with an error; watching again from the last resourceVersion');
      } catch (err) {
        if (signal.aborted) break;
        if (isGone(err)) {
          this.#stats.gone++;
          logger.info({ what }, 'watch refused with 410 Gone: listing again');
          this.#rv = undefined;
          continue;
        }
        logger.warn({ err, what }, 'list or watch failed; retrying');
      }
      await clock.sleep(backoff, signal);
      backoff = Math.min(backoff * 2, max);
    }
  }
}
