/**
 * When the agent may restart the kubelet outside an upgrade run (Heal RPC), as a pure verdict.
 *
 * A kubelet restart restarts every running container whose hash label differs from the hash the
 * (re)starting kubelet computes (kuberuntime_manager.go computePodActions, "Container ... definition
 * changed"), unless the patched kubelet finds a valid skip file. So:
 * - HEAL_RESTART (kubelet stuck on broken pooled HTTP/2 connections to the apiserver: golang/go#34978,
 *   kubernetes#87615, fixed by kubernetes PR #100376; restarting the kubelet drops the pool):
 *   allowed while a valid skip file is present for a patched kubelet, or when no running container
 *   carries an old hash (proved: the hashes could all be computed);
 * - HEAL_FINALIZE (kip finalize): allowed only once the skip file is gone (the consistency loop
 *   removed it on complete information) and every running container carries the running kubelet's
 *   hash, so the restarted kubelet is back to upstream behaviour and restarts nothing.
 * Never during an upgrade run.
 */

export type HealMode = 'restart' | 'finalize';

export interface HealFacts {
  readonly mode: HealMode;
  readonly runInProgress: boolean;
  readonly kubeletActive: boolean;
  readonly kubeletPatched: boolean;
  readonly kubeletVersion: string;
  readonly skipFile: { readonly present: boolean; readonly valid: boolean; readonly version: string; readonly problem: string };
  /**
   * The consistency of the node's running containers with the running kubelet's hash; undefined
   * when the API or the runtime could not be read (incomplete information).
   */
  readonly hashes?: {
    /** pod/container of every running container whose label is not the running kubelet's hash. */
    readonly oldHash: readonly string[];
    /** Specs kip could not hash: their containers cannot be proved safe. */
    readonly undecodable: number;
    /** The consistency join is complete and all-matching (checkConsistency allConsistent). */
    readonly allConsistent: boolean;
    /** Why not allConsistent (problems of the join). */
    readonly problems: readonly string[];
  };
  /** Why the hashes are unknown (the read error), when they are. */
  readonly hashesError?: string;
}

export type HealVerdict =
  | { readonly ok: true; readonly gate: string }
  | { readonly ok: false; readonly code: HealRefusal; readonly message: string };

export type HealRefusal =
  | 'HEAL_RUN_IN_PROGRESS'
  | 'HEAL_WOULD_RESTART_CONTAINERS'
  | 'HEAL_HASHES_UNKNOWN'
  | 'FINALIZE_SKIP_FILE_PRESENT'
  | 'FINALIZE_KUBELET_NOT_ACTIVE'
  | 'FINALIZE_NOT_CONSISTENT';

const sample = (xs: readonly string[]): string => `${xs.slice(0, 5).join(', ')}${xs.length > 5 ? ` and ${xs.length - 5} more` : ''}`;

export function healGate(f: HealFacts): HealVerdict {
  if (f.runInProgress) return { ok: false, code: 'HEAL_RUN_IN_PROGRESS', message: 'an upgrade or rollback run owns the node: wait for it to end (kip status)' };
  if (f.mode === 'restart') {
    if (f.skipFile.present && f.skipFile.valid && f.kubeletPatched) {
      return { ok: true, gate: `skip file ${f.skipFile.version} present: the patched kubelet ${f.kubeletVersion} does not compare container hashes` };
    }
    const why = !f.skipFile.present ? 'no skip file' : !f.skipFile.valid ? `the skip file is not valid (${f.skipFile.problem})` : `the kubelet ${f.kubeletVersion} is not patched (it ignores the skip file)`;
    if (!f.hashes) {
      return { ok: false, code: 'HEAL_HASHES_UNKNOWN', message: `${why}, and the node's container hashes could not be read (${f.hashesError ?? 'no workload access'}): a restart might restart containers. Fix the agent's kubeconfig or the runtime, or restore the skip file` };
    }
    if (f.hashes.oldHash.length > 0 || f.hashes.undecodable > 0) {
      const what = f.hashes.oldHash.length > 0 ? `${f.hashes.oldHash.length} running container(s) carry an old hash (${sample(f.hashes.oldHash)})` : `${f.hashes.undecodable} container spec(s) cannot be hashed`;
      return { ok: false, code: 'HEAL_WOULD_RESTART_CONTAINERS', message: `${why}, and ${what}: the restarted kubelet would restart them. Roll their owners first (kip status lists them), or restart while the skip file is present` };
    }
    return { ok: true, gate: `${why}, and no running container carries an old hash: the restart restarts none` };
  }
  if (f.skipFile.present) {
    return { ok: false, code: 'FINALIZE_SKIP_FILE_PRESENT', message: `the skip file (${f.skipFile.version || 'invalid'}) is still there: the agent's consistency loop removes it once every running container carries the ${f.kubeletVersion} hash; kip status lists the containers still old` };
  }
  if (!f.kubeletActive) return { ok: false, code: 'FINALIZE_KUBELET_NOT_ACTIVE', message: 'the kubelet is not active: finalize restarts a running, consistent kubelet only' };
  if (!f.hashes) return { ok: false, code: 'FINALIZE_NOT_CONSISTENT', message: `the node's container hashes could not be read (${f.hashesError ?? 'no workload access'}): nothing proves the restart restarts no container` };
  if (!f.hashes.allConsistent || f.hashes.oldHash.length > 0) {
    const what = f.hashes.oldHash.length > 0 ? `${f.hashes.oldHash.length} running container(s) carry an old hash (${sample(f.hashes.oldHash)})` : f.hashes.problems.join('; ');
    return { ok: false, code: 'FINALIZE_NOT_CONSISTENT', message: `not consistent: ${what}` };
  }
  return { ok: true, gate: `skip file gone and every running container carries the ${f.kubeletVersion} hash` };
}
