/**
 * Pure rollout planning: the version path (one minor at a time; the kubelet supports no more
 * than one minor of skew during the upgrade, per the seed and the Kubernetes version-skew
 * policy) and the deterministic node order in batches (canary first, then batches of at most
 * `concurrency` nodes), as system-upgrade-controller orders nodes by name.
 */
import { InvalidInputError } from '../../lib/errors.ts';
import { compareVersions, DowngradeError, parseRealVersion } from '../../lib/knowledge/version.ts';

export interface VersionStep {
  readonly from: string;
  readonly to: string;
}

/**
 * The steps from `current` to `target`, through `releases` (one full version per minor,
 * e.g. the newest patch of each). Refuses downgrades (DOWNGRADE_REFUSED) and targets it has no
 * release for; versions are read by the one parser (lib/knowledge/version.ts).
 */
export function versionPath(current: string, target: string, releases: readonly string[]): VersionStep[] {
  const from = parseRealVersion(current, 'running version');
  const to = parseRealVersion(target, 'target version');
  if (from.major !== 1 || to.major !== 1) throw new InvalidInputError('ROLLOUT_BAD_VERSION', 'kip upgrades Kubernetes 1.x only');
  if (compareVersions(to, from) < 0) throw new DowngradeError(from.raw, to.raw);
  const byMinor = new Map(releases.map((r) => { const v = parseRealVersion(r, 'release'); return [v.minor, v.gitVersion]; }));
  const steps: VersionStep[] = [];
  let at = from.gitVersion;
  for (let minor = from.minor + 1; minor <= to.minor; minor++) {
    const next = minor === to.minor ? to.gitVersion : byMinor.get(minor);
    if (!next) throw new InvalidInputError('ROLLOUT_NO_RELEASE', `no release known for 1.${minor}: stage one (known: ${releases.join(', ')})`, { minor });
    steps.push({ from: at, to: next });
    at = next;
  }
  if (steps.length === 0 && at !== to.gitVersion) steps.push({ from: at, to: to.gitVersion });
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
