/**
 * Cluster-level preflight checks over what the API says, pure (the caller lists nodes and pods
 * through lib/kube):
 * - pods whose nodeSelector names a label their node lacks: a restarting kubelet re-admits its
 *   pods and kills these (MatchNodeSelector, kubelet_pods.go "Killing unwanted pod");
 * - pods without tolerationSeconds for node.kubernetes.io/not-ready and /unreachable NoExecute
 *   taints: once taint-based evictions are on (beta, on by default from 1.13) a NotReady blip
 *   evicts them at once; DefaultTolerationSeconds adds 300 s on create and on update.
 * - pods that are not Running, and containers that already restarted, as a baseline.
 */
import type { V1Node, V1Pod, V1Toleration } from '@kubernetes/client-node';

export const NOT_READY_TAINT = 'node.kubernetes.io/not-ready';
export const UNREACHABLE_TAINT = 'node.kubernetes.io/unreachable';

export interface SelectorProblem {
  readonly pod: string;
  readonly node: string;
  /** nodeSelector entries the node does not satisfy, with the node's value (undefined: absent). */
  readonly missing: readonly { readonly key: string; readonly want: string; readonly has: string | undefined }[];
}

export interface ClusterPreflight {
  readonly selectorProblems: readonly SelectorProblem[];
  /** Pods a NoExecute not-ready/unreachable taint would evict at once. */
  readonly withoutEvictionTolerations: readonly string[];
  readonly notRunning: readonly { readonly pod: string; readonly phase: string; readonly reason: string }[];
  readonly restartedContainers: readonly { readonly pod: string; readonly container: string; readonly restartCount: number }[];
}

const key = (p: V1Pod): string => `${p.metadata?.namespace ?? 'default'}/${p.metadata?.name ?? ''}`;

/** A toleration that keeps the pod through a NoExecute taint with this key (forever or for a while). */
export function toleratesNoExecute(tolerations: readonly V1Toleration[] | undefined, taintKey: string): boolean {
  return (tolerations ?? []).some((t) => {
    const effectOk = !t.effect || t.effect === 'NoExecute';
    const keyOk = t.operator === 'Exists' ? !t.key || t.key === taintKey : t.key === taintKey;
    return effectOk && keyOk;
  });
}

export function clusterPreflight(nodes: readonly V1Node[], pods: readonly V1Pod[]): ClusterPreflight {
  const labelsByNode = new Map(nodes.map((n) => [n.metadata?.name ?? '', n.metadata?.labels ?? {}]));
  const selectorProblems: SelectorProblem[] = [];
  const withoutEvictionTolerations: string[] = [];
  const notRunning: { pod: string; phase: string; reason: string }[] = [];
  const restartedContainers: { pod: string; container: string; restartCount: number }[] = [];
  for (const p of pods) {
    const phase = p.status?.phase ?? 'Unknown';
    if (phase === 'Succeeded') continue;
    if (phase !== 'Running') notRunning.push({ pod: key(p), phase, reason: p.status?.reason ?? '' });
    if (phase === 'Failed') continue;
    const nodeName = p.spec?.nodeName;
    if (nodeName) {
      const labels = labelsByNode.get(nodeName) ?? {};
      const missing = Object.entries(p.spec?.nodeSelector ?? {})
        .filter(([k, v]) => labels[k] !== v)
        .map(([k, v]) => ({ key: k, want: v, has: labels[k] }));
      if (missing.length > 0) selectorProblems.push({ pod: key(p), node: nodeName, missing });
    }
    const tol = p.spec?.tolerations;
    if (!toleratesNoExecute(tol, NOT_READY_TAINT) || !toleratesNoExecute(tol, UNREACHABLE_TAINT)) withoutEvictionTolerations.push(key(p));
    for (const c of p.status?.containerStatuses ?? []) {
      if (c.restartCount > 0) restartedContainers.push({ pod: key(p), container: c.name, restartCount: c.restartCount });
    }
  }
  return { selectorProblems, withoutEvictionTolerations, notRunning, restartedContainers };
}
