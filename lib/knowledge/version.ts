/**
 * Kubernetes versions: the one parser, the one set of skew rules and the one error vocabulary that
 * every part of kip uses (agent, coordinator, lab). Pure.
 *
 * A version is what `version.Get().String()` prints (the gitVersion): `v1.10.13`, `v1.17.0-rc.2`,
 * `v1.16.3+k3s1`, or the placeholder `v0.0.0-master+$Format:%h$` of a build made without version
 * information. The skip-file patch compares these strings as written, so `raw` is kept exactly.
 */
import { InvalidInputError } from '../errors.ts';

export interface KubeVersion {
  /** Exactly as given (trimmed), e.g. `v1.10.13`: the string the skip file carries. */
  readonly raw: string;
  /** `raw` with the leading `v` the apiserver and kubelet print (`1.17.17` -> `v1.17.17`). */
  readonly gitVersion: string;
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** Pre-release part after `-` (e.g. `rc.2`), if any. */
  readonly prerelease: string | undefined;
  /** Build metadata after `+`, if any. */
  readonly build: string | undefined;
  /**
   * True for builds without version information (`v0.0.0-...` or any `$Format` leftover). Two such
   * binaries print the same string, so the patched kubelet's comparison sees no upgrade.
   */
  readonly placeholder: boolean;
}

/** The version string of an unstamped build (`hack/lib/version.sh` leaves `$Format:%h$` in). */
export const PLACEHOLDER_VERSION = 'v0.0.0-master+$Format:%h$';

/** Stable codes (part of the agent contract and the CLI: never rename one). */
export const VersionCodes = {
  VERSION_INVALID: 'VERSION_INVALID',
  VERSION_PLACEHOLDER: 'VERSION_PLACEHOLDER',
  SKEW_TOO_LARGE: 'SKEW_TOO_LARGE',
  DOWNGRADE_REFUSED: 'DOWNGRADE_REFUSED',
  ALREADY_AT_VERSION: 'ALREADY_AT_VERSION',
  SKEW_POLICY: 'SKEW_POLICY',
} as const;

export class VersionInvalidError extends InvalidInputError {
  constructor(text: string, what = 'version') {
    const shown = JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}...` : text);
    super(VersionCodes.VERSION_INVALID, `${what} ${shown} is not a Kubernetes version like v1.17.17`, { version: text.slice(0, 200), what });
  }
}

export class VersionPlaceholderError extends InvalidInputError {
  constructor(raw: string, what = 'version') {
    super(
      VersionCodes.VERSION_PLACEHOLDER,
      `${what} ${JSON.stringify(raw)} is the placeholder of a build without version information: the skip-file patch compares ` +
        'versions as strings, so nothing would be skipped; rebuild it with a real version (KUBE_GIT_VERSION)',
      { version: raw, what },
    );
  }
}

export class VersionSkewError extends InvalidInputError {
  constructor(from: string, to: string, next?: string) {
    super(VersionCodes.SKEW_TOO_LARGE, `${from} -> ${to} skips a minor version: upgrade one minor at a time${next ? ` (next: ${next})` : ''}`, { from, to });
  }
}

export class DowngradeError extends InvalidInputError {
  constructor(from: string, to: string) {
    super(VersionCodes.DOWNGRADE_REFUSED, `${to} is older than the running ${from}: a downgrade is only possible as a rollback of the run that upgraded`, { from, to });
  }
}

export class AlreadyAtVersionError extends InvalidInputError {
  constructor(version: string, what = 'the component') {
    super(VersionCodes.ALREADY_AT_VERSION, `${what} already runs ${version}`, { from: version, to: version });
  }
}

/** A pairing of two components' versions that the Kubernetes version-skew policy forbids. */
export class SkewPolicyError extends InvalidInputError {
  constructor(message: string, details: Record<string, unknown>) {
    super(VersionCodes.SKEW_POLICY, message, details);
  }
}

const MAX_LENGTH = 128;
// Semver-style: the pre-release and build parts are dot-separated alphanumerics, which also keeps
// a version safe to use as a path component.
const VERSION_RE = /^v?(\d{1,4})\.(\d{1,4})\.(\d{1,6})(?:-([0-9A-Za-z][0-9A-Za-z.-]*))?(?:\+([0-9A-Za-z][0-9A-Za-z.+-]*))?$/;

export function isPlaceholderVersion(text: string): boolean {
  return text.includes('$Format') || /^v?0\.0\.0(?:[-+]|$)/.test(text.trim());
}

/** Parses a full version (`v1.17.17` or `1.17.17`). A placeholder build parses with `placeholder: true`. */
export function parseKubeVersion(text: string, what = 'version'): KubeVersion {
  const raw = text.trim();
  if (raw.length > MAX_LENGTH) throw new VersionInvalidError(text, what);
  if (isPlaceholderVersion(raw)) {
    const p = /^v?(\d+)\.(\d+)\.(\d+)(?:-([^+]*))?(?:\+(.*))?$/.exec(raw);
    return {
      raw, gitVersion: raw.startsWith('v') ? raw : `v${raw}`,
      major: Number(p?.[1] ?? 0), minor: Number(p?.[2] ?? 0), patch: Number(p?.[3] ?? 0), prerelease: p?.[4], build: p?.[5], placeholder: true,
    };
  }
  const m = VERSION_RE.exec(raw);
  if (!m) throw new VersionInvalidError(text, what);
  return {
    raw,
    gitVersion: raw.startsWith('v') ? raw : `v${raw}`,
    major: Number(m[1]),
    minor: Number(m[2]),
    patch: Number(m[3]),
    prerelease: m[4],
    build: m[5],
    placeholder: false,
  };
}

/** parseKubeVersion, refusing a placeholder build (VERSION_PLACEHOLDER). */
export function parseRealVersion(text: string, what = 'version'): KubeVersion {
  const v = parseKubeVersion(text, what);
  assertRealVersion(v, what);
  return v;
}

export function assertRealVersion(v: KubeVersion, what = 'version'): void {
  if (v.placeholder) throw new VersionPlaceholderError(v.raw, what);
}

/**
 * What `kubelet --version` (or any component's) prints: `Kubernetes v1.10.13`. Some builds print
 * to stderr, so pass both streams joined; log noise lines before it (klog deprecation warnings)
 * are tolerated and the last `Kubernetes v...` line wins. Undefined when there is none.
 */
export function versionInOutput(output: string): string | undefined {
  let found: string | undefined;
  for (const line of output.split(/\r?\n/)) {
    const m = /^\s*Kubernetes\s+(v\S+)\s*$/.exec(line);
    if (m?.[1] !== undefined) found = m[1];
  }
  return found;
}

/** versionInOutput, parsed; VERSION_INVALID when the output names no version. */
export function parseVersionOutput(output: string, what = 'version output'): KubeVersion {
  const found = versionInOutput(output);
  if (found === undefined) throw new VersionInvalidError(output.trim(), what);
  return parseKubeVersion(found, what);
}

/**
 * A minor version: `1.17`, `v1.17` or a full version (`v1.17.3`, `1.17.3-rc.1`). The key that the
 * knowledge tables and the hash engine use.
 */
export function parseMinor(text: string, what = 'version'): { readonly major: number; readonly minor: number; readonly key: string } {
  const m = /^v?(\d{1,4})\.(\d{1,4})(?:\.\d{1,6}(?:[-+][0-9A-Za-z.+-]*)?)?$/.exec(text.trim());
  if (!m) throw new VersionInvalidError(text, what);
  const major = Number(m[1]);
  const minor = Number(m[2]);
  return { major, minor, key: `${major}.${minor}` };
}

/** `1.16` for v1.16.3. */
export function minorOf(v: KubeVersion): string {
  return `${v.major}.${v.minor}`;
}

function comparePrerelease(a: string | undefined, b: string | undefined): number {
  if (a === b) return 0;
  if (a === undefined) return 1; // a release is newer than any of its pre-releases
  if (b === undefined) return -1;
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d+$/.test(x) ? Number(x) : undefined;
    const ny = /^\d+$/.test(y) ? Number(y) : undefined;
    if (nx !== undefined && ny !== undefined) {
      if (nx !== ny) return nx < ny ? -1 : 1;
    } else if (nx !== undefined) {
      return -1;
    } else if (ny !== undefined) {
      return 1;
    } else if (x !== y) {
      return x < y ? -1 : 1;
    }
  }
  return 0;
}

/** Semver order (build metadata ignored). Negative when a < b. */
export function compareVersions(a: KubeVersion, b: KubeVersion): number {
  if (a.major !== b.major) return a.major - b.major;
  if (a.minor !== b.minor) return a.minor - b.minor;
  if (a.patch !== b.patch) return a.patch - b.patch;
  return comparePrerelease(a.prerelease, b.prerelease);
}

export type UpgradeStepKind = 'same' | 'patch' | 'minor';

/**
 * The rule for one component step `from -> to`: the same version, a patch step, or exactly one
 * minor step (skipping a minor is not supported: the seed, and the version-skew policy's "upgrade
 * one minor at a time"). A step backwards throws DOWNGRADE_REFUSED unless `allowDowngrade` (a
 * rollback), which still allows at most one minor; a placeholder on either side throws
 * VERSION_PLACEHOLDER.
 */
export function checkUpgradeStep(from: KubeVersion, to: KubeVersion, options: { allowDowngrade?: boolean } = {}): UpgradeStepKind {
  assertRealVersion(from, 'running version');
  assertRealVersion(to, 'target version');
  const order = compareVersions(from, to);
  if (order === 0) return 'same';
  if (order > 0 && !options.allowDowngrade) throw new DowngradeError(from.raw, to.raw);
  const [older, newer] = order < 0 ? [from, to] : [to, from];
  if (older.major !== newer.major || newer.minor - older.minor > 1) {
    throw new VersionSkewError(from.raw, to.raw, order < 0 ? `v${from.major}.${from.minor + 1}.x` : undefined);
  }
  return older.minor === newer.minor ? 'patch' : 'minor';
}

/**
 * One upgrade of a running component: parses both sides, refuses the version already running
 * (ALREADY_AT_VERSION) and every step checkUpgradeStep refuses.
 */
export function checkUpgradePath(fromRaw: string, toRaw: string, what = 'the kubelet'): { from: KubeVersion; to: KubeVersion; kind: Exclude<UpgradeStepKind, 'same'> } {
  const from = parseRealVersion(fromRaw, 'running version');
  const to = parseRealVersion(toRaw, 'target version');
  const kind = checkUpgradeStep(from, to);
  if (kind === 'same') throw new AlreadyAtVersionError(from.raw, what);
  return { from, to, kind };
}

/**
 * How many minors a kubelet (or kube-proxy) may trail kube-apiserver. The version-skew policy
 * (kubernetes.io/releases/version-skew-policy): "kubelet must not be newer than kube-apiserver,
 * and may be up to two minor versions older" until 1.27; from the 1.28 policy on, "up to three
 * minor versions older (kubelet < 1.25 may only be up to two minor versions older)" (KEP-3935).
 */
export function maxKubeletLag(kubelet: { readonly major: number; readonly minor: number }): number {
  return kubelet.major === 1 && kubelet.minor >= 25 ? 3 : 2;
}

/** Throws SKEW_POLICY when a kubelet at `kubelet` may not run against kube-apiserver `apiserver`. */
export function checkKubeletSkew(apiserver: KubeVersion, kubelet: KubeVersion, node = 'a node'): void {
  const lag = (apiserver.major - kubelet.major) * 1000 + apiserver.minor - kubelet.minor;
  if (lag < 0) {
    throw new SkewPolicyError(`the kubelet of ${node} (${kubelet.raw}) is newer than kube-apiserver (${apiserver.raw}): the version-skew policy forbids a kubelet newer than the apiserver; upgrade the control plane first`, {
      node, kubelet: kubelet.raw, apiserver: apiserver.raw, rule: 'kubelet-not-newer-than-apiserver',
    });
  }
  const max = maxKubeletLag(kubelet);
  if (lag > max) {
    throw new SkewPolicyError(`the kubelet of ${node} (${kubelet.raw}) is ${lag} minors behind kube-apiserver (${apiserver.raw}): the version-skew policy allows ${max}; upgrade the kubelets first`, {
      node, kubelet: kubelet.raw, apiserver: apiserver.raw, rule: 'kubelet-max-lag', max,
    });
  }
}

/**
 * HA control planes: "the newest and oldest kube-apiserver instances must be within one minor
 * version" (version-skew policy, supported version skew, kube-apiserver).
 */
export function checkApiserverSkew(apiservers: readonly KubeVersion[]): void {
  if (apiservers.length < 2) return;
  const sorted = [...apiservers].sort(compareVersions);
  const oldest = sorted[0]!;
  const newest = sorted[sorted.length - 1]!;
  if (newest.major !== oldest.major || newest.minor - oldest.minor > 1) {
    throw new SkewPolicyError(`kube-apiserver instances ${oldest.raw} and ${newest.raw} are more than one minor apart: the version-skew policy allows one; bring the old ones up first`, {
      oldest: oldest.raw, newest: newest.raw, rule: 'apiserver-ha-one-minor',
    });
  }
}
