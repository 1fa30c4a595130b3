/**
 * The one Clock port: decision logic takes time from here, never from Date.now() or a bare
 * setTimeout, so tests drive it with a fake and the same code runs in agent, coordinator and lab.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after ms, or early (never rejecting) when signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /**
   * Calls fn once after ms unless the returned cancel is called first. Optional (use `after()`
   * below, which falls back to sleep with a signal, so a fake clock, or one that overrides sleep,
   * needs nothing more): a timer without an AbortSignal costs a fraction of one with it (no
   * EventTarget listener and Event dispatch), and the rollout engine sets and cancels some per node.
   */
  after?(ms: number, fn: () => void): () => void;
}

/** The clock's `after`, or the same built from sleep and an AbortSignal for a clock without one. */
export function after(clock: Clock, ms: number, fn: () => void): () => void {
  if (clock.after) return clock.after(ms, fn);
  const ac = new AbortController();
  let cancelled = false;
  void clock.sleep(ms, ac.signal).then(() => {
    if (!cancelled) fn();
  });
  return () => {
    cancelled = true;
    ac.abort('cancelled');
  };
}

/**
 * A sleep that a wake() ends early: for a loop woken by events it does not own, without an
 * AbortController per wait (each abort dispatches an Event; the engine waits once per round).
 */
export function wakeableSleep(clock: Clock, ms: number): { readonly done: Promise<void>; wake(): void } {
  let wake: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    let cancel: (() => void) | undefined;
    wake = () => {
      cancel?.();
      resolve();
    };
    cancel = after(clock, ms, resolve);
  });
  return { done, wake };
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (!signal) {
        setTimeout(resolve, ms);
        return;
      }
      if (signal.aborted) {
        resolve();
        return;
      }
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        signal!.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    }),
  after: (ms, fn) => {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
};

/** A clock that moves only when told to: sleep() resolves once advance() passes its deadline. */
export class FakeClock implements Clock {
  private t: number;
  private readonly sleepers: { until: number; resolve: () => void }[] = [];

  constructor(start = 0) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const entry = { until: this.t + ms, resolve };
      this.sleepers.push(entry);
      signal?.addEventListener('abort', () => {
        const i = this.sleepers.indexOf(entry);
        if (i >= 0) this.sleepers.splice(i, 1);
        resolve();
      }, { once: true });
    });
  }

  /** Moves time forward by ms and wakes every sleeper whose deadline has come. */
  advance(ms: number): void {
    this.t += ms;
    for (const s of [...this.sleepers]) {
      if (s.until <= this.t) {
        this.sleepers.splice(this.sleepers.indexOf(s), 1);
        s.resolve();
      }
    }
  }
}
