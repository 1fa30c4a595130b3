/**
 * The data side of a StageBinary stream, bounded in time: each message must arrive within
 * `idleMs` of the one before, and a cancelled call ends at once. Either ends the upload with a
 * typed error, so the staged store removes its temp file (issue 8, defects 9 and 14: an idle or
 * abandoned stream used to hold a temp file and a descriptor for as long as the peer liked).
 */
import type { Clock } from '../lib/clock.ts';
import { InvalidInputError, KipError } from '../lib/errors.ts';
import { IdleTimeoutError, ServerCodes } from './server-errors.ts';
import { Codes } from './upgrade/errors.ts';
import type { StageBinaryChunk__Output } from '../proto/kip/generated/kip/v1/StageBinaryChunk.ts';

export interface StreamBounds {
  readonly clock: Clock;
  readonly idleMs: number;
  /** Aborts when the call is cancelled (the client went away). */
  readonly cancelled: AbortSignal;
}

const IDLE: unique symbol = Symbol('idle');
// The reason the per-message watch is ended with: the default is a new DOMException (a stack
// trace per message).
const DONE = 'done';
const CANCELLED: unique symbol = Symbol('cancelled');

/** The next message, or a typed error when the peer is idle too long or the call is cancelled. */
export async function nextWithin<T>(it: AsyncIterator<T>, bounds: StreamBounds): Promise<IteratorResult<T>> {
  if (bounds.cancelled.aborted) throw new KipError('CALL_CANCELLED', 'the call was cancelled by the client');
  const stop = new AbortController();
  const onCancel = new Promise<typeof CANCELLED>((resolve) => bounds.cancelled.addEventListener('abort', () => resolve(CANCELLED), { once: true, signal: stop.signal }));
  const idle = bounds.clock.sleep(bounds.idleMs, stop.signal).then((): typeof IDLE => IDLE);
  try {
    const r = await Promise.race([it.next(), idle, onCancel]);
    if (r === IDLE) {
      throw new IdleTimeoutError(ServerCodes.STAGE_IDLE_TIMEOUT, `no StageBinary message for ${bounds.idleMs} ms: the upload was ended and its temp file removed; send the stream without pauses`, { idleMs: bounds.idleMs });
    }
    if (r === CANCELLED) throw new KipError('CALL_CANCELLED', 'the call was cancelled by the client');
    return r;
  } finally {
    stop.abort(DONE);
  }
}

export async function* dataChunks(it: AsyncIterator<StageBinaryChunk__Output>, bounds: StreamBounds): AsyncGenerator<Buffer> {
  for (;;) {
    const r = await nextWithin(it, bounds);
    if (r.done) return;
    if (r.value.payload !== 'data' || !r.value.data) {
      throw new InvalidInputError(Codes.STAGE_BAD_METADATA, 'only the first StageBinary message may carry metadata');
    }
    yield r.value.data;
  }
}
