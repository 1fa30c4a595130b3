/**
 * The post-checks of a control-plane step, pure: against the baseline taken at the start of the
 * step, no pod that ran is now Failed (MatchNodeSelector after a kubelet re-admission, or any
 * other reason), no container's restart count grew, and every Node is Ready. The components the
 * step upgrades themselves (their static/mirror pods in kube-system) are expected to restart.
 */
import type { V1Node, V1Pod } from '@kubernetes/client-node';

export interface PodBaseline {
  /** ns/name -> uid and restart count per container, of the pods Running at the baseline. */
  readonly pods: Readonly<Record<string, { readonly uid: string; readonly restarts: Readonly<Record<string, number>> }>>;
}

export const COMPONENT_PODS = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy', 'etcd'] as const;

/** A pod of a component the upgrade swaps on purpose (kubeadm's static pods `<component>-<node>`, kube-proxy's DaemonSet pods). */
export function isComponentPod(namespace: string, name: string): boolean {
  return namespace === 'kube-system' && COMPONENT_PODS.some((c) => name === c || name.startsWith(`${c}-`));
}

export function baselineOf(pods: readonly V1Pod[]): PodBaseline {
  const out: Record<string, { uid: string; restarts: Record<string, number> }> = {};
  for (const p of pods) {
    if (p.status?.phase !== 'Running') continue;
    out[`${p.metadata?.namespace}/${p.metadata?.name}`] = { uid: p.metadata?.uid ?? '', restarts: Object.fromEntries((p.status.containerStatuses ?? []).map((c) => [c.name, c.restartCount])) };
  }
  return { pods: out };
}

export function postCheckProblems(baseline: PodBaseline, pods: readonly V1Pod[], nodes: readonly V1Node[]): string[] {
  const problems: string[] = [];
  const now = new Map(pods.map((p) => [`${p.metadata?.namespace}/${p.metadata?.name}`, p]));
  for (const [key, was] of Object.entries(baseline.pods)) {
    const [ns = '', name = ''] = key.split('/');
    if (isComponentPod(ns, name)) continue;
    const p = now.get(key);
    if (!p || p.metadata?.uid !== was.uid) continue;
    if (p.status?.phase === 'Failed') problems.push(`pod ${key} is Failed${p.status.reason ? ` (${p.status.reason})` : ''}${p.status.message ? `: ${p.status.message}` : ''}`);
    for (const c of p.status?.containerStatuses ?? []) {
      const before = was.restarts[c.name];
      if (before !== undefined && c.restartCount > before) problems.push(`container ${key}/${c.name} restarted (restartCount ${before} -> ${c.restartCount})`);
    }
  }
  for (const n of nodes) {
    const ready = n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    if (!ready) problems.push(`Node ${n.metadata?.name ?? '?'} is not Ready`);
  }
  return problems;
}
