import { systemClock, type Clock } from './clock.ts';
import { KipError } from './errors.ts';

export interface WaitOptions {
  readonly timeoutMs: number;
  readonly intervalMs?: number;
  /** More to say when it times out (a log tail, say), computed only then. */
  readonly context?: () => string | Promise<string>;
  /** Time comes from here (tests pass a FakeClock); the system clock by default. */
  readonly clock?: Clock;
}

/**
 * Polls check() until it returns a value other than undefined, or throws WAIT_TIMEOUT after
 * timeoutMs. An error from check() is remembered (and reported on timeout), not fatal.
 */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, opts: WaitOptions): Promise<T> {
  const clock = opts.clock ?? systemClock;
  const deadline = clock.now() + opts.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    if (clock.now() >= deadline) {
      const last = lastError === undefined ? '' : `: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
      const context = opts.context ? `\n${await opts.context()}` : '';
      throw new KipError('WAIT_TIMEOUT', `timed out after ${opts.timeoutMs} ms waiting for ${what}${last}${context}`, { what }, { cause: lastError });
    }
    await clock.sleep(opts.intervalMs ?? 100);
  }
}
