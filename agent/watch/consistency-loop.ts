/**
 * Runs the consistency check periodically and removes the skip file once every running
 * container carries the running kubelet's hash. Guarded: never while an upgrade run is in
 * progress, never while the kubelet is not active, and only for a kubelet version kip can hash.
 */
import type { Logger } from '../../lib/logger.ts';
import type { JsonNode } from '../../lib/knowledge/hash/index.ts';
import type { RuntimeReader } from '../runtime/types.ts';
import { checkConsistency, type ConsistencyReport } from './consistency.ts';

export interface ConsistencyPorts {
  /** The PodList (raw JSON) of the pods bound to this node, from the API. */
  readonly listNodePods: () => Promise<JsonNode>;
  readonly runtime: Pick<RuntimeReader, 'listContainers'>;
  /** The running kubelet's version (e.g. v1.14.10) and whether its unit is active. */
  readonly kubelet: () => Promise<{ version: string; active: boolean }>;
  /** True while an upgrade or rollback run owns the node. */
  readonly runInProgress: () => boolean;
  /** Whether the skip file exists, and removing it (atomically: unlink + fsync of the directory). */
  readonly skipFile: { readonly present: () => Promise<boolean>; readonly remove: () => Promise<void> };
  readonly logger: Logger;
}

export type ConsistencyOutcome =
  | { readonly kind: 'skipped'; readonly reason: string }
  | { readonly kind: 'checked'; readonly report: ConsistencyReport; readonly removedSkipFile: boolean };

export async function consistencyPass(ports: ConsistencyPorts): Promise<ConsistencyOutcome> {
  if (!(await ports.skipFile.present())) return { kind: 'skipped', reason: 'no skip file' };
  if (ports.runInProgress()) return { kind: 'skipped', reason: 'an upgrade run is in progress' };
  const kubelet = await ports.kubelet();
  if (!kubelet.active) return { kind: 'skipped', reason: 'the kubelet is not active' };
  const [pods, containers] = await Promise.all([ports.listNodePods(), ports.runtime.listContainers()]);
  const report = checkConsistency(pods, containers, kubelet.version);
  if (!report.allConsistent) {
    ports.logger.info({ stale: report.stale.length, unknown: report.unknown.length, running: report.running }, 'skip file kept: containers still carry another version\'s hash');
    return { kind: 'checked', report, removedSkipFile: false };
  }
  // The run guard is checked again: a run may have started while we listed.
  if (ports.runInProgress()) return { kind: 'skipped', reason: 'an upgrade run started during the check' };
  await ports.skipFile.remove();
  ports.logger.info({ running: report.running, kubeletVersion: report.kubeletVersion }, 'every running container carries the running kubelet\'s hash: skip file removed');
  return { kind: 'checked', report, removedSkipFile: true };
}
