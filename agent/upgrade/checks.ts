/** A list of named checks, each passing, warning, or failing with the typed error a call would get. */
import type { KipError } from './errors.ts';
import { toKipError } from './kip-error.ts';
import type { Check } from './types.ts';

export type CheckFn = () => Promise<string | { warn: string }>;

export class CheckList {
  readonly checks: Check[] = [];
  readonly errors: KipError[] = [];

  async run(name: string, fix: string, fn: CheckFn): Promise<void> {
    try {
      const r = await fn();
      if (typeof r === 'string') this.checks.push({ name, status: 'CHECK_OK', message: r, fix: '' });
      else this.checks.push({ name, status: 'CHECK_WARN', message: r.warn, fix });
    } catch (err) {
      const k = toKipError(err);
      this.errors.push(k);
      this.checks.push({ name, status: 'CHECK_FAIL', message: `${k.code}: ${k.message}`, fix });
    }
  }
}
