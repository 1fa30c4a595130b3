import { KipError } from '../../lib/errors.ts';

/**
 * Failures of the systemd-nspawn node harness. Stable codes:
 * NSPAWN_BASE_BUILD_FAILED, NSPAWN_LOCK_TIMEOUT, NSPAWN_MOUNT_FAILED, NSPAWN_CGROUP_FAILED,
 * NSPAWN_BOOT_FAILED, NSPAWN_BOOT_TIMEOUT, NSPAWN_STOP_FAILED, NSPAWN_INVALID_OPTION.
 */
export class NspawnError extends KipError {
  constructor(code: string, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(code, message, details, options);
  }
}
