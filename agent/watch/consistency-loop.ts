/**
 * Runs the consistency check periodically and removes the skip file once every running
 * container carries the running kubelet's hash. Guarded: never while an upgrade run is in
 * progress, never while the kubelet is not active, only for a kubelet version kip can hash, and
 * only on complete information: a Node the API does not know, an unreachable apiserver or a failed
 * runtime call mean "not consistent" (issue 8 defect 1, issue 11 item 6). Immediately before the
 * removal the skip file and the kubelet are read again (issue 8 item 8): a run, a rollback or an
 * operator may have rewritten the file or swapped the kubelet while we listed.
 */
import type { Logger } from '../../lib/logger.ts';
import type { JsonNode } from '../../lib/knowledge/hash/index.ts';
import type { RuntimeReader } from '../runtime/types.ts';
import { checkConsistency, type ConsistencyReport } from './consistency.ts';
import type { HashMemo } from './hash-memo.ts';

export interface KubeletState {
  /** The running kubelet's version, e.g. v1.14.10. */
  readonly version: string;
  readonly active: boolean;
}

export interface ConsistencyPorts {
  /** Whether the API has a Node of this node's name (a wrong name lists no pods: never a pass). */
  readonly nodeExists: () => Promise<boolean>;
  /** The PodList (raw JSON) of the pods bound to this node, from the API. */
  readonly listNodePods: () => Promise<JsonNode>;
  readonly runtime: Pick<RuntimeReader, 'listContainers'>;
  readonly kubelet: () => Promise<KubeletState>;
  /** True while an upgrade or rollback run owns the node. */
  readonly runInProgress: () => boolean;
  /** Kept across passes: a container's hash is computed again only when its spec's bytes change. */
  readonly hashMemo?: HashMemo;
  /** The skip file's content (undefined: absent), and removing it (atomically: unlink + fsync of the directory). */
  readonly skipFile: { readonly read: () => Promise<string | undefined>; readonly remove: () => Promise<void> };
  readonly logger: Logger;
}

export type ConsistencyOutcome =
  | { readonly kind: 'skipped'; readonly reason: string }
  /** The information was incomplete (API, Node or runtime): the file stays. */
  | { readonly kind: 'incomplete'; readonly reason: string; readonly error?: unknown }
  | { readonly kind: 'checked'; readonly report: ConsistencyReport; readonly removedSkipFile: boolean };

export async function consistencyPass(ports: ConsistencyPorts): Promise<ConsistencyOutcome> {
  const skipBefore = await ports.skipFile.read();
  if (skipBefore === undefined) return { kind: 'skipped', reason: 'no skip file' };
  if (ports.runInProgress()) return { kind: 'skipped', reason: 'an upgrade run is in progress' };
  const kubelet = await ports.kubelet();
  if (!kubelet.active) return { kind: 'skipped', reason: 'the kubelet is not active' };
  let pods: JsonNode;
  let containers: Awaited<ReturnType<RuntimeReader['listContainers']>>;
  try {
    const [found, p, c] = await Promise.all([ports.nodeExists(), ports.listNodePods(), ports.runtime.listContainers()]);
    if (!found) {
      ports.logger.warn('skip file kept: the API has no Node of this node\'s name (check nodeName)');
      return { kind: 'incomplete', reason: 'no Node of this name in the API' };
    }
    pods = p;
    containers = c;
  } catch (error) {
    ports.logger.warn({ err: error }, 'skip file kept: the API or the runtime could not be read');
    return { kind: 'incomplete', reason: 'the API or the runtime could not be read', error };
  }
  let report: ConsistencyReport;
  try {
    report = checkConsistency(pods, containers, kubelet.version, ports.hashMemo);
  } catch (error) {
    ports.logger.warn({ err: error }, 'skip file kept: the consistency check failed');
    return { kind: 'incomplete', reason: 'the consistency check failed', error };
  }
  if (!report.allConsistent) {
    ports.logger.info(
      { stale: report.stale.length, unknown: report.unknown.length, missing: report.missing.length, compared: report.compared, problems: report.problems.map((p) => p.message) },
      'skip file kept: not every running container is proved to carry the running kubelet\'s hash',
    );
    return { kind: 'checked', report, removedSkipFile: false };
  }
  // Re-check everything the decision rests on, as late as possible: a run may have started, the
  // file may have been rewritten (a rollback names another version), the kubelet may have changed.
  if (ports.runInProgress()) return { kind: 'skipped', reason: 'an upgrade run started during the check' };
  const skipNow = await ports.skipFile.read();
  if (skipNow !== skipBefore) return { kind: 'skipped', reason: 'the skip file changed during the check' };
  const kubeletNow = await ports.kubelet();
  if (!kubeletNow.active || kubeletNow.version !== kubelet.version) {
    return { kind: 'skipped', reason: `the kubelet changed during the check (${kubelet.version} -> ${kubeletNow.version}, active ${kubeletNow.active})` };
  }
  if (ports.runInProgress()) return { kind: 'skipped', reason: 'an upgrade run started during the check' };
  await ports.skipFile.remove();
  ports.logger.info({ compared: report.compared, kubeletVersion: report.kubeletVersion }, 'every running container carries the running kubelet\'s hash: skip file removed');
  return { kind: 'checked', report, removedSkipFile: true };
}
