/**
 * What the heal gate (./gate.ts) is decided on, read from the node: the run state, the node view
 * (kubelet, skip file) and the hash consistency of the running containers (the same join as the
 * consistency loop: a Node the API lacks, an unreadable API or runtime mean "unknown").
 */
import type { JsonNode } from '../../lib/knowledge/hash/index.ts';
import type { ContainerInfo } from '../runtime/types.ts';
import type { NodeInfo } from '../upgrade/types.ts';
import { checkConsistency } from '../watch/consistency.ts';
import type { HealFacts } from './gate.ts';

export interface HealFactPorts {
  readonly runInProgress: () => boolean;
  readonly nodeInfo: () => Promise<NodeInfo>;
  /** Undefined without workload access (no kubeconfig). */
  readonly workload?: { readonly nodeExists: () => Promise<boolean>; readonly listNodePods: () => Promise<JsonNode> };
  readonly containers: () => Promise<readonly ContainerInfo[]>;
}

export async function readHealFacts(p: HealFactPorts): Promise<Omit<HealFacts, 'mode'>> {
  const node = await p.nodeInfo();
  const base = {
    runInProgress: p.runInProgress(),
    kubeletActive: node.unit.activeState === 'active',
    kubeletPatched: node.kubeletPatched,
    kubeletVersion: node.kubeletVersion,
    skipFile: { present: node.skipFile.present, valid: node.skipFile.valid, version: node.skipFile.version, problem: node.skipFile.problem },
  };
  if (!p.workload) return { ...base, hashesError: 'the agent has no kubeconfig' };
  if (!node.kubeletVersion) return { ...base, hashesError: 'the kubelet version is unknown' };
  try {
    const [found, pods, containers] = await Promise.all([p.workload.nodeExists(), p.workload.listNodePods(), p.containers()]);
    if (!found) return { ...base, hashesError: `the API has no Node named ${node.nodeName}` };
    const r = checkConsistency(pods, containers, node.kubeletVersion);
    return {
      ...base,
      hashes: { oldHash: r.stale.map((s) => `${s.pod}/${s.container}`), undecodable: r.undecodable.length, allConsistent: r.allConsistent, problems: r.problems.map((x) => x.message) },
    };
  } catch (err) {
    return { ...base, hashesError: err instanceof Error ? err.message : String(err) };
  }
}
