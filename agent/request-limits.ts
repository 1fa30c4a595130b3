/**
 * Bounds on what a caller may put in a request, checked before anything acts: a value the
 * agent's own configuration would refuse is refused in a request too (the floor of
 * verify_timeout_ms is the config's floor of verifyTimeoutMs), and strings that end up in file
 * names or metadata are bounded (a 10 kB version used to reach mkdir and fail ENAMETOOLONG as
 * INTERNAL; issue 8, defects 13 and 15).
 */
import { InvalidInputError } from '../lib/errors.ts';
import { OPTIONS } from './config.ts';
import { ServerCodes } from './server-errors.ts';

/** Longest version string accepted (a stamped build with a 40-digit git hash is about 60). */
export const MAX_VERSION_CHARS = 128;
export const MAX_LIST_ITEMS = 64;
export const MAX_ITEM_CHARS = 256;
/** One hour: past that a broken kubelet would stay in VERIFY for as long before rolling back. */
export const MAX_VERIFY_TIMEOUT_MS = 3_600_000;

function floorOf(key: 'verifyTimeoutMs'): number {
  return OPTIONS.find((o) => o.key === key)?.min ?? 0;
}

export const VERIFY_TIMEOUT_FLOOR_MS = floorOf('verifyTimeoutMs');

export function checkLength(field: string, value: string, max: number): void {
  if (value.length > max) {
    throw new InvalidInputError(ServerCodes.REQUEST_VALUE_TOO_LONG, `${field} is ${value.length} characters long; at most ${max} are accepted`, { field, length: value.length, max });
  }
}

export function checkList(field: string, values: readonly string[]): void {
  if (values.length > MAX_LIST_ITEMS) {
    throw new InvalidInputError(ServerCodes.REQUEST_VALUE_TOO_LONG, `${field} has ${values.length} entries; at most ${MAX_LIST_ITEMS} are accepted`, { field, length: values.length, max: MAX_LIST_ITEMS });
  }
  values.forEach((v, i) => checkLength(`${field}[${i}]`, v, MAX_ITEM_CHARS));
}

/** verify_timeout_ms: 0 means the agent's default; otherwise within [floor, ceiling]. */
export function checkVerifyTimeout(ms: number): void {
  if (ms === 0) return;
  if (ms < VERIFY_TIMEOUT_FLOOR_MS) {
    throw new InvalidInputError(
      ServerCodes.REQUEST_VALUE_BELOW_FLOOR,
      `verify_timeout_ms ${ms} is below the floor of ${VERIFY_TIMEOUT_FLOOR_MS} ms (the same floor as the agent's verifyTimeoutMs): a healthy kubelet could not prove itself and the run would roll back; pass 0 for the agent's default`,
      { field: 'verify_timeout_ms', value: ms, floor: VERIFY_TIMEOUT_FLOOR_MS },
    );
  }
  if (ms > MAX_VERIFY_TIMEOUT_MS) {
    throw new InvalidInputError(ServerCodes.REQUEST_VALUE_ABOVE_CEILING, `verify_timeout_ms ${ms} is above the ceiling of ${MAX_VERIFY_TIMEOUT_MS} ms`, { field: 'verify_timeout_ms', value: ms, ceiling: MAX_VERIFY_TIMEOUT_MS });
  }
}

export interface UpgradeRequestShape {
  readonly runId: string;
  readonly targetVersion: string;
  readonly verifyTimeoutMs: number;
  readonly allowDroppedFlags: readonly string[];
}

export function checkUpgradeRequest(req: UpgradeRequestShape): void {
  checkLength('run_id', req.runId, 128);
  checkLength('target_version', req.targetVersion, MAX_VERSION_CHARS);
  checkList('allow_dropped_flags', req.allowDroppedFlags);
  checkVerifyTimeout(req.verifyTimeoutMs);
}
