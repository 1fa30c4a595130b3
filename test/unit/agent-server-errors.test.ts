/**
 * The error path of the agent's server (issue 8, defect 9): building a status never throws and
 * always yields values grpc-js accepts, whatever the error holds; and the shared look at the node
 * behind GetNode (defect 14).
 */
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../lib/clock.ts';
import { InvalidInputError, KipError } from '../../lib/errors.ts';
import { toServiceError } from '../../agent/server-errors.ts';
import { SingleFlight } from '../../agent/single-flight.ts';
import { ERROR_CODE_KEY, ERROR_DETAILS_BIN_KEY, MAX_DETAILS_BYTES, decodeErrorDetails } from '../../proto/kip/errors.ts';

/** What grpc-js does with a status: percent-encode the message and turn metadata into headers. */
function send(e: grpc.ServiceError): void {
  encodeURI(e.details);
  e.metadata.toHttp2Headers();
}

describe('toServiceError', () => {
  const circular: Record<string, unknown> = { a: 1 };
  circular.self = circular;
  it.each([
    ['non-ASCII details', new InvalidInputError('RUN_ID_INVALID', 'bad run id', { runId: 'é日本😀' })],
    ['a lone surrogate in message and details', new InvalidInputError('X', 'half \ud800 a pair', { v: 'x\udc00y' })],
    ['10 kB details', new InvalidInputError('X', 'long', { runId: 'r'.repeat(10_000), many: Array.from({ length: 1_000 }, (_, i) => `v${i}`) })],
    ['circular details', new KipError('X', 'loop', circular)],
    ['a bigint detail', new KipError('X', 'big', { n: 10n ** 30n })],
    ['a 100 kB message', new KipError('X', 'm'.repeat(100_000))],
    ['a non-ASCII code', new KipError('CÖDE\n', 'odd code')],
    ['a plain Error', new Error('plain é')],
    ['a thrown string', 'just a string \ud800'],
  ])('%s: a status grpc-js can send, with the details as a JSON object', (_name, err) => {
    const e = toServiceError(err);
    expect(() => send(e)).not.toThrow();
    expect(e.details.length).toBeLessThan(1_200);
    const code = e.metadata.get(ERROR_CODE_KEY)[0];
    expect(typeof code).toBe('string');
    expect(String(code)).toMatch(/^[\x20-\x7e]+$/);
    const bin = e.metadata.get(ERROR_DETAILS_BIN_KEY)[0];
    expect(Buffer.isBuffer(bin)).toBe(true);
    expect((bin as Buffer).length).toBeLessThanOrEqual(MAX_DETAILS_BYTES);
    expect(typeof decodeErrorDetails(bin as Buffer)).toBe('object');
  });

  it('keeps short non-ASCII details exact and maps invalid input to INVALID_ARGUMENT', () => {
    const e = toServiceError(new InvalidInputError('RUN_ID_INVALID', 'bad', { runId: 'é日本' }));
    expect(e.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(decodeErrorDetails(e.metadata.get(ERROR_DETAILS_BIN_KEY)[0] as Buffer)).toEqual({ runId: 'é日本' });
  });
});

describe('SingleFlight', () => {
  it('shares one load among concurrent callers, answers from it for the TTL, and looks again after invalidate', async () => {
    const clock = new FakeClock(1_000);
    let loads = 0;
    let release!: () => void;
    const sf = new SingleFlight(async () => {
      loads += 1;
      await new Promise<void>((r) => (release = r));
      return loads;
    }, 500, clock);
    const all = Array.from({ length: 100 }, () => sf.get());
    release();
    expect(await Promise.all(all)).toEqual(Array.from({ length: 100 }, () => 1));
    expect(await sf.get()).toBe(1);
    clock.advance(499);
    expect(await sf.get()).toBe(1);
    clock.advance(1);
    const again = sf.get();
    release();
    expect(await again).toBe(2);
    sf.invalidate();
    const third = sf.get();
    release();
    expect(await third).toBe(3);
    expect(loads).toBe(3);
  });

  it('does not keep a failed load', async () => {
    let n = 0;
    const sf = new SingleFlight(async () => {
      n += 1;
      if (n === 1) throw new Error('first fails');
      return n;
    }, 10_000, new FakeClock());
    await expect(sf.get()).rejects.toThrow('first fails');
    expect(await sf.get()).toBe(2);
  });
});
