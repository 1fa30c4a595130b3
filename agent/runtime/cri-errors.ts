/** The CRI client's typed errors (agent/runtime/cri.ts, cri-wire.ts). */
import { KipError } from '../../lib/errors.ts';

export type CriErrorCode =
  | 'CRI_UNAVAILABLE'
  | 'CRI_DEADLINE_EXCEEDED'
  | 'CRI_NOT_FOUND'
  | 'CRI_UNIMPLEMENTED'
  | 'CRI_NO_SUPPORTED_API'
  | 'CRI_BAD_RESPONSE'
  | 'CRI_CALL_FAILED';

export class CriError extends KipError {
  declare readonly code: CriErrorCode;
  constructor(code: CriErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(code, message, details, options);
  }
}
