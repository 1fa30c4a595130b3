/**
 * The one mapping from typed errors to gRPC statuses, and the error classes only the server
 * raises. Building a status never throws: the message and details are bounded and made safe for
 * grpc-js (printable-ASCII text metadata, well-formed UTF-16 for the percent-encoded message),
 * because a throw on this path used to kill the agent (issue 8, defect 9).
 */
import * as grpc from '@grpc/grpc-js';
import { InvalidInputError, KipError } from '../lib/errors.ts';
import { ERROR_CODE_KEY, ERROR_DETAILS_BIN_KEY, MAX_STATUS_MESSAGE, asciiMetadataValue, boundText, encodeErrorDetails } from '../proto/kip/errors.ts';
import { NotFoundError, PreconditionError, StepFailedError } from './upgrade/errors.ts';
import { ResourceExhaustedError } from './upgrade/stage-errors.ts';

export { ResourceExhaustedError };

/** The caller stopped sending within the allowed time (an idle upload). gRPC: DEADLINE_EXCEEDED. */
export class IdleTimeoutError extends KipError {}

export const ServerCodes = {
  REQUEST_VALUE_TOO_LONG: 'REQUEST_VALUE_TOO_LONG',
  REQUEST_VALUE_BELOW_FLOOR: 'REQUEST_VALUE_BELOW_FLOOR',
  REQUEST_VALUE_ABOVE_CEILING: 'REQUEST_VALUE_ABOVE_CEILING',
  STAGE_IDLE_TIMEOUT: 'STAGE_IDLE_TIMEOUT',
} as const;

function statusOf(err: KipError): grpc.status {
  if (err instanceof InvalidInputError) return grpc.status.INVALID_ARGUMENT;
  if (err instanceof PreconditionError) return grpc.status.FAILED_PRECONDITION;
  if (err instanceof NotFoundError) return grpc.status.NOT_FOUND;
  if (err instanceof StepFailedError) return grpc.status.ABORTED;
  if (err instanceof ResourceExhaustedError) return grpc.status.RESOURCE_EXHAUSTED;
  if (err instanceof IdleTimeoutError) return grpc.status.DEADLINE_EXCEEDED;
  return grpc.status.INTERNAL;
}

function build(status: grpc.status, code: string, message: string, details: Readonly<Record<string, unknown>>): grpc.ServiceError {
  const safeCode = asciiMetadataValue(boundText(code, 128));
  const text = `${safeCode}: ${boundText(message, MAX_STATUS_MESSAGE)}`;
  const metadata = new grpc.Metadata();
  metadata.set(ERROR_CODE_KEY, safeCode);
  metadata.set(ERROR_DETAILS_BIN_KEY, encodeErrorDetails(details));
  const e = new Error(text) as grpc.ServiceError;
  e.code = status;
  e.details = text;
  e.metadata = metadata;
  return e;
}

/** The gRPC status of an error. Never throws. */
export function toServiceError(err: unknown): grpc.ServiceError {
  try {
    if (err instanceof KipError) return build(statusOf(err), err.code, err.message, err.details);
    return build(grpc.status.INTERNAL, 'INTERNAL', err instanceof Error ? err.message : String(err), {});
  } catch {
    // Unreachable by construction; kept so that no input can make the error path throw.
    return build(grpc.status.INTERNAL, 'INTERNAL', 'the error could not be encoded', {});
  }
}
