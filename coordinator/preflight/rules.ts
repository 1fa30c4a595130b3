/**
 * Cluster preflight findings, pure over what the API says (each: severity, object, why it
 * matters, the fix). The kubelet re-admits every pod when it restarts, so what admission would
 * refuse now is killed then:
 * - nodeSelector labels and required node affinity the node no longer satisfies (MatchNodeSelector,
 *   kubelet_pods.go "Killing unwanted pod"); fixable: restore the label (`--fix node-labels`);
 * - extended resources (device plugins) requested but not allocatable on the node, and requests
 *   beyond the node's allocatable (OutOfcpu/OutOfmemory/OutOf<resource> on re-admission);
 * - static pods (mirror pods: their UID is a hash of the whole pod, so a kubelet upgrade recreates
 *   them; the skip file does not help);
 * - pods without not-ready/unreachable NoExecute tolerationSeconds (evicted at once once
 *   TaintBasedEvictions is on, 1.13+);
 * - NotReady nodes.
 */
import type { V1Node, V1NodeSelectorRequirement, V1Pod } from '@kubernetes/client-node';
import { clusterPreflight } from './cluster.ts';

export type Severity = 'error' | 'warning' | 'info';

export interface Finding {
  readonly severity: Severity;
  readonly check: string;
  readonly object: string;
  readonly why: string;
  readonly fix: string;
  /** Set when `--fix <name>` can apply it. */
  readonly fixable?: { readonly name: 'node-labels'; readonly node: string; readonly labels: Readonly<Record<string, string>> };
}

const key = (p: V1Pod): string => `${p.metadata?.namespace ?? 'default'}/${p.metadata?.name ?? ''}`;
const live = (p: V1Pod): boolean => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed';

function matches(req: V1NodeSelectorRequirement, labels: Readonly<Record<string, string>>): boolean {
  const v = labels[req.key];
  switch (req.operator) {
    case 'In': return v !== undefined && (req.values ?? []).includes(v);
    case 'NotIn': return v === undefined || !(req.values ?? []).includes(v);
    case 'Exists': return v !== undefined;
    case 'DoesNotExist': return v === undefined;
    case 'Gt': return v !== undefined && Number(v) > Number(req.values?.[0]);
    case 'Lt': return v !== undefined && Number(v) < Number(req.values?.[0]);
    default: return false;
  }
}

/** Kubernetes quantities to a number (cores, bytes, counts); NaN when unparsable. */
export function quantity(text: string | undefined): number {
  if (text === undefined) return 0;
  const m = /^([0-9.]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(text.trim());
  if (!m) return NaN;
  const mult: Record<string, number> = { m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
  return Number(m[1]) * (m[2] ? mult[m[2]]! : 1);
}

function requests(p: V1Pod): Map<string, number> {
  const sum = new Map<string, number>();
  for (const c of p.spec?.containers ?? []) {
    for (const [r, q] of Object.entries(c.resources?.requests ?? {})) sum.set(r, (sum.get(r) ?? 0) + quantity(String(q)));
  }
  // An init container's request counts when it is the largest (the pod's effective request).
  for (const c of p.spec?.initContainers ?? []) {
    for (const [r, q] of Object.entries(c.resources?.requests ?? {})) sum.set(r, Math.max(sum.get(r) ?? 0, quantity(String(q))));
  }
  return sum;
}

export function clusterFindings(nodes: readonly V1Node[], pods: readonly V1Pod[]): Finding[] {
  const out: Finding[] = [];
  const byName = new Map(nodes.map((n) => [n.metadata?.name ?? '', n]));
  const base = clusterPreflight(nodes, pods);
  for (const s of base.selectorProblems) {
    const labels = Object.fromEntries(s.missing.map((m) => [m.key, m.want]));
    out.push({
      severity: 'error', check: 'node-selector', object: `pod ${s.pod} on ${s.node}`,
      why: `its nodeSelector needs ${s.missing.map((m) => `${m.key}=${m.want}${m.has === undefined ? '' : ` (node has ${m.has})`}`).join(', ')}: a restarting kubelet re-admits its pods and kills this one (MatchNodeSelector)`,
      fix: `restore the label: kubectl label node ${s.node} ${s.missing.map((m) => `${m.key}=${m.want}`).join(' ')} --overwrite (kip preflight --fix node-labels)`,
      fixable: { name: 'node-labels', node: s.node, labels },
    });
  }
  for (const p of pods.filter(live)) {
    const node = byName.get(p.spec?.nodeName ?? '');
    if (!node) continue;
    const labels = node.metadata?.labels ?? {};
    const terms = p.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
    if (terms.length > 0 && !terms.some((t) => (t.matchExpressions ?? []).every((r) => matches(r, labels)))) {
      out.push({ severity: 'error', check: 'node-affinity', object: `pod ${key(p)} on ${p.spec?.nodeName}`, why: 'its required node affinity no longer matches the node\'s labels: a restarting kubelet kills it on re-admission', fix: 'restore the node labels the affinity needs, or move the pod first' });
    }
    const alloc = node.status?.allocatable ?? {};
    for (const [r, q] of requests(p)) {
      const extended = r.includes('/') && !r.startsWith('kubernetes.io/') && !r.startsWith('requests.');
      if (extended && quantity(alloc[r]) < q) {
        out.push({ severity: 'error', check: 'extended-resource', object: `pod ${key(p)} on ${p.spec?.nodeName}`, why: `it requests ${q} ${r}, the node's allocatable has ${alloc[r] ?? 'none'}: after a kubelet restart the device plugin must re-register before re-admission, or the pod is killed (OutOf${r})`, fix: `check the device plugin on ${p.spec?.nodeName} serves ${r} before its kubelet is upgraded` });
      }
    }
  }
  for (const n of nodes) {
    const name = n.metadata?.name ?? '';
    const onNode = pods.filter((p) => live(p) && p.spec?.nodeName === name);
    for (const r of ['cpu', 'memory']) {
      const have = quantity(n.status?.allocatable?.[r]);
      const want = onNode.reduce((s, p) => s + (requests(p).get(r) ?? 0), 0);
      if (n.status?.allocatable?.[r] !== undefined && want > have) {
        out.push({ severity: 'error', check: 'allocatable', object: `node ${name}`, why: `its pods request ${r} ${want} of ${have} allocatable: on re-admission after a kubelet restart some are killed (OutOf${r})`, fix: `move pods off ${name} or raise its allocatable before its kubelet is upgraded` });
      }
    }
    if (!(n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')) {
      out.push({ severity: 'error', check: 'node-ready', object: `node ${name}`, why: 'it is NotReady: the run would count it against --max-unavailable and could not verify its kubelet', fix: `bring ${name} back to Ready (or cordon and drain it and leave it out)` });
    }
  }
  for (const p of pods.filter(live)) {
    if (p.metadata?.annotations?.['kubernetes.io/config.mirror'] !== undefined) {
      out.push({ severity: 'warning', check: 'static-pod', object: `pod ${key(p)} on ${p.spec?.nodeName}`, why: 'a static pod\'s UID is a hash of the whole pod, which a kubelet upgrade changes: it is recreated, the skip file does not help', fix: 'expect the restart, or move the workload out of the static manifest' });
    }
  }
  for (const pod of base.withoutEvictionTolerations) {
    out.push({ severity: 'warning', check: 'eviction-tolerations', object: `pod ${pod}`, why: 'no not-ready/unreachable NoExecute tolerationSeconds: with TaintBasedEvictions (on from 1.13) a NotReady blip evicts it at once', fix: 'kip upgrade touches it so DefaultTolerationSeconds adds 300 s before the 1.13 controller-manager starts' });
  }
  for (const c of base.restartedContainers) {
    out.push({ severity: 'info', check: 'baseline-restarts', object: `container ${c.pod}/${c.container}`, why: `restarted ${c.restartCount} times before the run: the baseline the run compares against`, fix: '' });
  }
  return out;
}
