/**
 * The hash self-check (kip's hash of each running container, as the running kubelet version
 * computes it, equals its label) and the restart prediction for the target version.
 */
import type { JsonNode } from '../../lib/knowledge/hash/index.ts';
import type { ContainerInfo } from '../runtime/types.ts';
import { checkConsistency, selfCheckVerdict } from '../watch/consistency.ts';
import type { CheckList } from './checks.ts';
import { PreconditionError } from './errors.ts';
import type { WorkloadPort } from './ports.ts';
import type { SkipFileInfo, StagedBinaryInfo } from './types.ts';

/**
 * Each minor between the skip file's version and the running one, the running one last, as the
 * hash engine needs them. The skip file may name a newer version than the running kubelet (a
 * rollback leaves one naming the version rolled back from, whose kubelet set its hashes).
 */
export function minorsBetween(skipVersion: string, running: string): string[] {
  const minor = (v: string): number => Number(/^v?1\.(\d+)/.exec(v)?.[1] ?? NaN);
  const a = minor(skipVersion);
  const b = minor(running);
  if (!Number.isFinite(a) || !Number.isFinite(b)) return [running];
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  const all = Array.from({ length: hi - lo + 1 }, (_, i) => `1.${lo + i}`);
  return [...all.filter((v) => v !== `1.${b}`), `1.${b}`];
}

export async function hashChecks(
  list: CheckList,
  workload: WorkloadPort,
  skipFile: () => Promise<SkipFileInfo>,
  from: string,
  target: string,
  staged: StagedBinaryInfo | undefined,
  allowUnpatched: boolean,
): Promise<void> {
  let pods: JsonNode | undefined;
  let containers: ContainerInfo[] = [];
  await list.run('hash-self-check', 'report the mismatching containers to the kip developers: predictions for this node cannot be trusted', async () => {
    if (!from) return { warn: 'skipped: the running kubelet version is unknown' };
    [pods, containers] = await Promise.all([workload.listNodePods(), workload.listContainers()]);
    const skip = await skipFile();
    // Under a skip file, containers may still carry the hash of any version since the one it names.
    const accepted = skip.present && skip.valid ? minorsBetween(skip.version, from) : [from];
    // A join of both sides (agent/watch/consistency.ts): zero compared, a container on one side
    // only, or a node name the API does not know is never a pass.
    const nodeFound = workload.node ? await workload.node.exists() : true;
    const v = selfCheckVerdict({ nodeFound, nodeName: workload.node?.name ?? '', podList: pods!, containers, accepted });
    if (!v.ok) throw new PreconditionError(v.code, v.message, { compared: v.report?.compared ?? 0 });
    return v.message;
  });
  await list.run('predicted-restarts', 'stage a patched kubelet so the skip file keeps these containers running', async () => {
    if (!pods) return { warn: 'skipped: no workload data' };
    const r = checkConsistency(pods, containers, target);
    const n = r.stale.length;
    if (n === 0) return `no running container changes hash at ${target}`;
    const who = r.stale.slice(0, 5).map((c) => `${c.pod}/${c.container}`).join(', ');
    if (staged?.patched) return `${n} of ${r.running} running containers change hash at ${target} (${who}${n > 5 ? ', ...' : ''}); the skip file keeps them running`;
    const msg = `without the skip-file patch ${n} of ${r.running} running containers would restart at ${target}: ${who}${n > 5 ? ', ...' : ''}`;
    if (allowUnpatched || !staged) return { warn: msg };
    throw new PreconditionError('RESTARTS_PREDICTED', msg, { count: n });
  });
}
