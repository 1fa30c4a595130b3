/**
 * One run per cluster: a lock in the cluster itself, so two coordinators on two machines see each
 * other. A coordination.k8s.io/v1 Lease `kube-system/kip-upgrade` where the apiserver serves it
 * (coordination.k8s.io/v1 from 1.14), else the annotation `kip.io/lock` on the kube-system
 * namespace (every version). Both are written with optimistic concurrency (resourceVersion), so
 * two takers cannot both win. An expired lock may be taken over; `kip unlock --force` removes any.
 */
import { InvalidInputError } from '../../lib/errors.ts';

export interface LockHolder {
  /** Who holds it (host/pid of the coordinator). */
  readonly holder: string;
  readonly runId: string;
  readonly acquiredAt: number;
  readonly renewedAt: number;
  readonly ttlMs: number;
}

export interface ClusterLock {
  /** Where the lock lives, for messages: `Lease kube-system/kip-upgrade` or `namespace kube-system annotation kip.io/lock`. */
  where(): Promise<string>;
  read(): Promise<LockHolder | undefined>;
  /**
   * Takes the lock for `runId` (or re-takes it when this run holds it already, e.g. on resume);
   * throws LockHeldError when another run holds an unexpired lock.
   */
  acquire(holder: string, runId: string, ttlMs: number, now: number): Promise<LockHolder>;
  /** Extends the lock of `runId`; throws LockHeldError when it was taken over. */
  renew(runId: string, now: number): Promise<LockHolder>;
  /** Removes the lock if `runId` holds it. */
  release(runId: string): Promise<void>;
  /** Removes the lock whoever holds it; returns who did. */
  forceRelease(): Promise<LockHolder | undefined>;
}

export class LockHeldError extends InvalidInputError {
  constructor(held: LockHolder, where: string, now: number) {
    super('LOCK_HELD', `another run holds the cluster's upgrade lock (${where}): run ${held.runId} by ${held.holder}, renewed ${Math.round((now - held.renewedAt) / 1000)} s ago, expires in ${Math.max(0, Math.round((held.renewedAt + held.ttlMs - now) / 1000))} s; wait for it, \`kip resume\` it, or remove it with \`kip unlock --force\``, { ...held });
  }
}

export function expired(h: LockHolder, now: number): boolean {
  return now > h.renewedAt + h.ttlMs;
}
