/**
 * Pure rollout planning: the version path (one minor at a time; the kubelet supports no more
 * than one minor of skew during the upgrade, per the seed and the Kubernetes version-skew
 * policy) and the deterministic node order in batches (canary first, then batches of at most
 * `concurrency` nodes), as system-upgrade-controller orders nodes by name.
 */
import { InvalidInputError } from '../../lib/errors.ts';

export interface VersionStep {
  readonly from: string;
  readonly to: string;
}

const parse = (v: string): { major: number; minor: number; patch: number } => {
  const m = /^v?(\d+)\.(\d+)\.(\d+)$/.exec(v);
  if (!m) throw new InvalidInputError('ROLLOUT_BAD_VERSION', `"${v}" is not a full Kubernetes version such as v1.17.17`, { version: v });
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) };
};

/**
 * The steps from `current` to `target`, through `releases` (one full version per minor,
 * e.g. the newest patch of each). Refuses downgrades and targets it has no release for.
 */
export function versionPath(current: string, target: string, releases: readonly string[]): VersionStep[] {
  const from = parse(current);
  const to = parse(target);
  if (from.major !== 1 || to.major !== 1) throw new InvalidInputError('ROLLOUT_BAD_VERSION', 'kip upgrades Kubernetes 1.x only');
  if (to.minor < from.minor || (to.minor === from.minor && to.patch < from.patch)) {
    throw new InvalidInputError('ROLLOUT_DOWNGRADE', `${target} is older than the running ${current}: a downgrade is a rollback, not an upgrade`, { current, target });
  }
  const byMinor = new Map(releases.map((r) => [parse(r).minor, r.startsWith('v') ? r : `v${r}`]));
  const steps: VersionStep[] = [];
  let at = current.startsWith('v') ? current : `v${current}`;
  for (let minor = from.minor + 1; minor <= to.minor; minor++) {
    const next = minor === to.minor ? (target.startsWith('v') ? target : `v${target}`) : byMinor.get(minor);
    if (!next) throw new InvalidInputError('ROLLOUT_NO_RELEASE', `no release known for 1.${minor}: stage one (known: ${releases.join(', ')})`, { minor });
    steps.push({ from: at, to: next });
    at = next;
  }
  if (steps.length === 0 && at !== (target.startsWith('v') ? target : `v${target}`)) steps.push({ from: at, to: target.startsWith('v') ? target : `v${target}` });
  return steps;
}

/** Canary nodes first (each alone), then the rest in batches of at most `concurrency`, by name. */
export function nodeBatches(nodes: readonly string[], options: { canary: number; concurrency: number }): string[][] {
  if (options.concurrency < 1) throw new InvalidInputError('ROLLOUT_BAD_CONCURRENCY', 'concurrency must be at least 1');
  if (options.canary < 0) throw new InvalidInputError('ROLLOUT_BAD_CANARY', 'canary must not be negative');
  const sorted = [...new Set(nodes)].sort();
  const batches: string[][] = sorted.slice(0, options.canary).map((n) => [n]);
  const rest = sorted.slice(options.canary);
  for (let i = 0; i < rest.length; i += options.concurrency) batches.push(rest.slice(i, i + options.concurrency));
  return batches;
}
