/**
 * Every error kip raises on purpose is a KipError with a stable, machine-readable code.
 * Codes are part of the contract (CLI exit codes, gRPC status details, logs): never rename one.
 */
export class KipError extends Error {
  readonly code: string;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }
}

/** Input the user gave us is wrong; nothing was changed. CLI exit code 2. */
export class InvalidInputError extends KipError {
  constructor(code: string, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(code, message, details, options);
  }
}

export function isKipError(err: unknown): err is KipError {
  return err instanceof KipError;
}
