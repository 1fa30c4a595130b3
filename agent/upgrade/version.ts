import { Codes, InvalidInputError } from './errors.ts';

/** A kubelet version as `kubelet --version` prints it, e.g. v1.10.13 (also v1.11.0-beta.1). */
export interface KubeVersion {
  readonly raw: string;
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
}

/**
 * The version string of a binary built without version stamping (`version.Get().String()` of an
 * unstamped build). The skip-file patch compares versions as strings, so two such builds look equal.
 */
export const PLACEHOLDER_VERSION = 'v0.0.0-master+$Format:%h$';

export function isPlaceholderVersion(v: string): boolean {
  return v.includes('$Format') || /^v0\.0\.0(?:[-+]|$)/.test(v);
}

const VERSION_RE = /^v(\d+)\.(\d+)\.(\d+)(?:[-+][0-9A-Za-z.+-]*)?$/;

export function parseKubeVersion(raw: string, what = 'version'): KubeVersion {
  const m = VERSION_RE.exec(raw);
  if (!m || isPlaceholderVersion(raw)) {
    if (isPlaceholderVersion(raw)) {
      throw new InvalidInputError(Codes.VERSION_PLACEHOLDER, `${what} ${JSON.stringify(raw)} is the placeholder of an unstamped build: the skip-file patch compares versions as strings, so nothing would be skipped`, { version: raw });
    }
    throw new InvalidInputError(Codes.VERSION_INVALID, `${what} ${JSON.stringify(raw)} is not a kubelet version like v1.11.10`, { version: raw });
  }
  return { raw, major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) };
}

/** Extracts the version from `kubelet --version` output ("Kubernetes v1.10.13"). */
export function versionFromOutput(stdout: string): string | undefined {
  const m = /Kubernetes\s+(v\S+)/.exec(stdout);
  return m?.[1];
}

export function compareVersions(a: KubeVersion, b: KubeVersion): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

/**
 * The upgrade rule: one minor version at a time, never backwards (a downgrade is a Rollback of
 * the run that upgraded), and not to the version already running.
 */
export function checkUpgradePath(fromRaw: string, toRaw: string): { from: KubeVersion; to: KubeVersion } {
  const from = parseKubeVersion(fromRaw, 'current kubelet version');
  const to = parseKubeVersion(toRaw, 'target version');
  const cmp = compareVersions(to, from);
  if (cmp === 0) throw new InvalidInputError(Codes.ALREADY_AT_VERSION, `the kubelet already runs ${fromRaw}`, { from: fromRaw, to: toRaw });
  if (cmp < 0) {
    throw new InvalidInputError(Codes.DOWNGRADE_REFUSED, `${toRaw} is older than the running ${fromRaw}: a downgrade is only possible as a Rollback of the run that upgraded`, { from: fromRaw, to: toRaw });
  }
  if (to.major !== from.major || to.minor - from.minor > 1) {
    throw new InvalidInputError(Codes.SKEW_TOO_LARGE, `${fromRaw} -> ${toRaw} skips a minor version: upgrade one minor at a time (next: v${from.major}.${from.minor + 1}.x)`, { from: fromRaw, to: toRaw });
  }
  return { from, to };
}
