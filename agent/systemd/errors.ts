import { InvalidInputError, KipError } from '../../lib/errors.ts';

/** systemctl failed or timed out. Code 'SYSTEMCTL_FAILED' (stable). */
export class SystemdCommandError extends KipError {
  readonly unit: string | undefined;
  readonly exitCode: number | undefined;
  readonly stderr: string;
  readonly timedOut: boolean;

  constructor(
    message: string,
    info: { unit?: string; args: readonly string[]; exitCode: number | undefined; stderr: string; timedOut: boolean },
    code = 'SYSTEMCTL_FAILED',
  ) {
    super(code, message, { unit: info.unit, args: info.args, exitCode: info.exitCode, stderr: info.stderr, timedOut: info.timedOut });
    this.unit = info.unit;
    this.exitCode = info.exitCode;
    this.stderr = info.stderr;
    this.timedOut = info.timedOut;
  }
}

/** journalctl failed, timed out, or a follow ended by itself. Code 'JOURNALCTL_FAILED' (stable). */
export class JournalCommandError extends SystemdCommandError {
  constructor(message: string, info: { unit?: string; args: readonly string[]; exitCode: number | undefined; stderr: string; timedOut: boolean }) {
    super(message, info, 'JOURNALCTL_FAILED');
  }
}

/** Output of systemctl/journalctl we could not understand. Code 'SYSTEMD_PARSE_FAILED' (stable). */
export class SystemdParseError extends KipError {
  constructor(message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super('SYSTEMD_PARSE_FAILED', message, details, options);
  }
}

/** A unit, property or option we refuse to pass on. Code 'SYSTEMD_INVALID_ARGUMENT' (stable). */
export class SystemdArgumentError extends InvalidInputError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('SYSTEMD_INVALID_ARGUMENT', message, details);
  }
}
