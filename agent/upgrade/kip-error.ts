import { KipError } from './errors.ts';

/** Any thrown value as a KipError (INTERNAL unless it already is one). */
export function toKipError(err: unknown): KipError {
  if (err instanceof KipError) return err;
  return new KipError('INTERNAL', err instanceof Error ? err.message : String(err), {}, { cause: err });
}
