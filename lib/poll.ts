import { KipError } from '../../lib/errors.ts';

/** Polls check() until it returns a value other than undefined, or throws WAIT_TIMEOUT after timeoutMs. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, opts: { timeoutMs: number; intervalMs?: number }): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      throw new KipError('WAIT_TIMEOUT', `timed out after ${opts.timeoutMs} ms waiting for ${what}`, { what }, { cause: lastError });
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
  }
}
