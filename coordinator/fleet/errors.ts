/**
 * The ONE place where a gRPC failure from an agent becomes a typed kip error on the coordinator
 * side. The agent puts a stable code in the `kip-error-code` trailer; transport failures get
 * codes of their own (AGENT_UNAVAILABLE, AGENT_DEADLINE_EXCEEDED, AGENT_TLS_REFUSED, ...).
 */
import * as grpc from '@grpc/grpc-js';
import { KipError } from '../../lib/errors.ts';
import { ERROR_CODE_KEY, ERROR_DETAILS_BIN_KEY, ERROR_DETAILS_KEY, decodeErrorDetails } from '../../proto/kip/errors.ts';

export type AgentErrorKind = 'invalid' | 'precondition' | 'not_found' | 'aborted' | 'exhausted' | 'unavailable' | 'deadline' | 'unauthenticated' | 'cancelled' | 'internal';

export class AgentCallError extends KipError {
  constructor(
    code: string,
    message: string,
    readonly kind: AgentErrorKind,
    readonly grpcStatus: grpc.status,
    readonly method: string,
    details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, details, options);
  }
}

function kindOf(status: grpc.status): AgentErrorKind {
  switch (status) {
    case grpc.status.INVALID_ARGUMENT:
      return 'invalid';
    case grpc.status.FAILED_PRECONDITION:
      return 'precondition';
    case grpc.status.NOT_FOUND:
      return 'not_found';
    case grpc.status.ABORTED:
      return 'aborted';
    case grpc.status.RESOURCE_EXHAUSTED:
      return 'exhausted';
    case grpc.status.UNAVAILABLE:
      return 'unavailable';
    case grpc.status.DEADLINE_EXCEEDED:
      return 'deadline';
    case grpc.status.UNAUTHENTICATED:
    case grpc.status.PERMISSION_DENIED:
      return 'unauthenticated';
    case grpc.status.CANCELLED:
      return 'cancelled';
    default:
      return 'internal';
  }
}

function isServiceError(err: unknown): err is grpc.ServiceError {
  return err instanceof Error && typeof (err as Partial<grpc.ServiceError>).code === 'number' && 'metadata' in err;
}

/** TLS handshake refusals surface as UNAVAILABLE; recognise them so the message says what happened. */
const TLS_REFUSAL = /certificate|handshake|SSL|TLS|alert/i;

export function fromGrpcError(err: unknown, method: string): KipError {
  if (err instanceof KipError) return err;
  if (!isServiceError(err)) {
    return new AgentCallError('AGENT_CALL_FAILED', `${method}: ${err instanceof Error ? err.message : String(err)}`, 'internal', grpc.status.UNKNOWN, method, {}, { cause: err });
  }
  const kind = kindOf(err.code);
  const trailerCode = err.metadata?.get(ERROR_CODE_KEY)[0];
  // Agents since issue 8 send the details as binary metadata; older ones as ASCII text.
  const binDetails = err.metadata?.get(ERROR_DETAILS_BIN_KEY)[0];
  const textDetails = err.metadata?.get(ERROR_DETAILS_KEY)[0];
  const details = decodeErrorDetails(Buffer.isBuffer(binDetails) ? binDetails : typeof textDetails === 'string' ? textDetails : undefined);
  let code: string;
  if (typeof trailerCode === 'string' && trailerCode) code = trailerCode;
  else if (kind === 'unavailable' && TLS_REFUSAL.test(err.details)) code = 'AGENT_TLS_REFUSED';
  else code = `AGENT_${grpc.status[err.code] ?? 'UNKNOWN'}`;
  let text = err.details.startsWith(`${code}: `) ? err.details.slice(code.length + 2) : err.details;
  if (code === 'AGENT_UNAVAILABLE') text += ' (the agent is down or unreachable, or it refused this client: mutual TLS needs a client certificate signed by the agent\'s CA)';
  return new AgentCallError(code, `${method}: ${text}`, kind, err.code, method, details, { cause: err });
}
