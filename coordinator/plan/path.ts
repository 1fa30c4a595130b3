/**
 * The version path of a run and its two kubelet plans, pure.
 *
 * The control plane steps one minor at a time (version-skew policy: "upgrade one minor at a
 * time"; lib/knowledge/version.ts checkUpgradeStep). Kubelets may trail kube-apiserver (maxKubeletLag:
 * two minors, three for kubelets from 1.25 on, the policy since 1.28 / KEP-3935), and must never be
 * newer than it. So two plans:
 * - `every-step`: every kubelet follows each control-plane step (one restart per minor);
 * - `fewest-restarts`: a kubelet moves only when the next control-plane step would leave it
 *   further behind than the policy allows, and then straight to the control plane's version
 *   (1.10 -> 1.12 -> 1.14 -> 1.16 -> 1.17: four restarts instead of seven).
 */
import {
  checkApiserverSkew, checkKubeletSkew, compareVersions, DowngradeError, maxKubeletLag, parseMinor, parseRealVersion, type KubeVersion,
} from '../../lib/knowledge/version.ts';
import { InvalidInputError } from '../../lib/errors.ts';

export type KubeletPlanKind = 'every-step' | 'fewest-restarts';

export interface NodeVersions {
  readonly name: string;
  readonly kubelet: string;
}

export interface ClusterVersions {
  /** Every kube-apiserver's gitVersion (one entry when only /version is known). */
  readonly apiservers: readonly string[];
  readonly nodes: readonly NodeVersions[];
}

/** One kubelet move: these nodes go from `from` to `to` (the same `from` for all of them). */
export interface KubeletHop {
  readonly from: string;
  readonly to: string;
  readonly nodes: readonly string[];
  /** Minors crossed at once; the agent upgrades one minor per run today. */
  readonly minors: number;
}

export interface PlanStep {
  /** The control plane's version after this step (the apiserver before it for step 0 of a kubelet-only plan). */
  readonly controlPlane: { readonly from: string; readonly to: string } | undefined;
  /** Kubelet hops taken at the end of this step (after the control plane reached `controlPlane.to`). */
  readonly kubelets: readonly KubeletHop[];
}

export interface KubeletPlan {
  readonly kind: KubeletPlanKind;
  readonly steps: readonly PlanStep[];
  /** Kubelet restarts per node summed over the run (each hop restarts each of its nodes once). */
  readonly kubeletRestarts: number;
}

export interface VersionPlan {
  readonly apiserver: string;
  readonly target: string;
  /** The control-plane versions in order (one per minor), `target` last. */
  readonly controlPlanePath: readonly string[];
  readonly plans: Readonly<Record<KubeletPlanKind, KubeletPlan>>;
}

/** Full versions per minor (`1.13` -> `v1.13.12`), e.g. from --releases DIR; the newest patch wins. */
export function releasesByMinor(versions: readonly string[]): Map<string, string> {
  const best = new Map<string, KubeVersion>();
  for (const raw of versions) {
    const v = parseRealVersion(raw, 'release');
    if (v.prerelease !== undefined) continue;
    const key = `${v.major}.${v.minor}`;
    const had = best.get(key);
    if (!had || compareVersions(had, v) < 0) best.set(key, v);
  }
  return new Map([...best].map(([k, v]) => [k, v.gitVersion]));
}

/**
 * Validates the cluster against the skew policy and the target, and computes both plans.
 * Throws SKEW_POLICY (nodes ahead of the apiserver, too far behind, HA apiservers apart),
 * DOWNGRADE_REFUSED, VERSION_INVALID / VERSION_PLACEHOLDER.
 */
export function planVersions(cluster: ClusterVersions, targetText: string, releases: readonly string[] = []): VersionPlan {
  if (cluster.apiservers.length === 0) throw new InvalidInputError('PLAN_NO_APISERVER', 'no kube-apiserver version known: kip plan reads it from /version');
  const apiservers = cluster.apiservers.map((a) => parseRealVersion(a, 'kube-apiserver version'));
  checkApiserverSkew(apiservers);
  const api = [...apiservers].sort(compareVersions)[0]!;
  const target = parseRealVersion(targetText, 'target version');
  if (target.major !== api.major) throw new InvalidInputError('PLAN_MAJOR', `kip upgrades within Kubernetes ${api.major}.x; ${target.raw} is another major`, { target: target.raw });
  if (compareVersions(target, api) < 0) throw new DowngradeError(api.raw, target.raw);
  const nodes = cluster.nodes.map((n) => ({ name: n.name, kubelet: parseRealVersion(n.kubelet, `the kubelet version of ${n.name}`) }));
  for (const n of nodes) checkKubeletSkew(api, n.kubelet, n.name);
  for (const a of apiservers) for (const n of nodes) checkKubeletSkew(a, n.kubelet, n.name);

  const known = releasesByMinor(releases);
  const path: string[] = [];
  for (let m = api.minor + 1; m <= target.minor; m++) {
    path.push(m === target.minor ? target.gitVersion : known.get(`${api.major}.${m}`) ?? `v${api.major}.${m}.x`);
  }
  // A patch step of the control plane (v1.17.3 -> v1.17.17) is a step too.
  if (path.length === 0 && compareVersions(api, target) < 0) path.push(target.gitVersion);

  return {
    apiserver: api.gitVersion,
    target: target.gitVersion,
    controlPlanePath: path,
    plans: {
      'every-step': kubeletPlan('every-step', api, target, path, nodes, known),
      'fewest-restarts': kubeletPlan('fewest-restarts', api, target, path, nodes, known),
    },
  };
}

/** A path entry's minor; entries may be placeholders (v1.13.x: no patch release known). */
function minorOfPathEntry(v: string): number {
  return parseMinor(v.replace(/\.x$/, ''), 'plan version').minor;
}

function kubeletPlan(kind: KubeletPlanKind, api: KubeVersion, target: KubeVersion, path: readonly string[], nodes: readonly { name: string; kubelet: KubeVersion }[], known: ReadonlyMap<string, string>): KubeletPlan {
  // Each node's current version as text and minor; moved as the plan goes.
  const at = new Map(nodes.map((n) => [n.name, { text: n.kubelet.gitVersion, minor: n.kubelet.minor }]));
  const steps: PlanStep[] = [];
  let restarts = 0;
  const move = (cp: string, cpMinor: number, isLast: boolean, nextMinor: number | undefined): KubeletHop[] => {
    const groups = new Map<string, string[]>();
    for (const [name, cur] of at) {
      const needed = isLast
        ? cur.text !== cp
        : kind === 'every-step'
          ? cur.minor < cpMinor
          : nextMinor !== undefined && nextMinor - cur.minor > maxKubeletLag({ major: api.major, minor: cur.minor });
      if (!needed) continue;
      const list = groups.get(cur.text) ?? [];
      list.push(name);
      groups.set(cur.text, list);
    }
    const hops: KubeletHop[] = [];
    for (const [from, names] of [...groups].sort(([a, na], [b, nb]) => at.get(na[0]!)!.minor - at.get(nb[0]!)!.minor || a.localeCompare(b))) {
      const fromMinor = at.get(names[0]!)!.minor;
      hops.push({ from, to: cp, nodes: [...names].sort(), minors: cpMinor - fromMinor });
      restarts += names.length;
      for (const n of names) at.set(n, { text: cp, minor: cpMinor });
    }
    return hops;
  };
  // Kubelets already behind the apiserver: every-step brings them up one minor at a time before
  // the control plane moves; fewest-restarts moves only those the first control-plane step would
  // leave too far behind, straight to the apiserver's version.
  const first = path[0];
  if (kind === 'every-step') {
    const lowest = Math.min(api.minor, ...[...at.values()].map((v) => v.minor));
    for (let m = lowest + 1; m <= api.minor; m++) {
      const version = m === api.minor ? api.gitVersion : known.get(`${api.major}.${m}`) ?? `v${api.major}.${m}.x`;
      const pre = move(version, m, false, undefined);
      if (pre.length > 0) steps.push({ controlPlane: undefined, kubelets: pre });
    }
  } else if (first !== undefined) {
    const pre = move(api.gitVersion, api.minor, false, minorOfPathEntry(first));
    if (pre.length > 0) steps.push({ controlPlane: undefined, kubelets: pre });
  }
  let prev = api.gitVersion;
  path.forEach((cp, i) => {
    const cpMinor = minorOfPathEntry(cp);
    const next = path[i + 1];
    const isLast = i === path.length - 1;
    steps.push({ controlPlane: { from: prev, to: cp }, kubelets: move(cp, cpMinor, isLast, next === undefined ? undefined : minorOfPathEntry(next)) });
    prev = cp;
  });
  // Kubelet-only plan: the control plane is at the target already.
  if (path.length === 0) {
    const hops = move(target.gitVersion, target.minor, true, undefined);
    if (hops.length > 0) steps.push({ controlPlane: undefined, kubelets: hops });
  }
  return { kind, steps, kubeletRestarts: restarts };
}
