import { KubeletDowngradeError, KubeletVersionInvalidError, KubeletVersionPlaceholderError, KubeletVersionSkewError } from './errors.ts';

/**
 * A Kubernetes version as the kubelet prints it (`version.Get().String()`, the gitVersion):
 * `v1.10.13`, `v1.17.0-rc.2`, `v1.16.3+k3s1`, or the placeholder `v0.0.0-master+$Format:%h$` of a
 * build made without version information.
 */
export interface KubeletVersion {
  /** Exactly as printed, e.g. `v1.10.13`. This is the string the skip file carries. */
  readonly raw: string;
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** Pre-release part after `-` (e.g. `rc.2`), if any. */
  readonly prerelease: string | undefined;
  /** Build metadata after `+`, if any. */
  readonly build: string | undefined;
  /**
   * True for builds without version information (`v0.0.0-master+$Format:%h$` or any `$Format`
   * leftover). Two such binaries print the same string, so the patched kubelet's `!=` check
   * sees no upgrade and skips nothing.
   */
  readonly placeholder: boolean;
}

const VERSION_RE = /^v(\d{1,4})\.(\d{1,4})\.(\d{1,6})(?:-([0-9A-Za-z.\-]+))?(?:\+(\S+))?$/;

/** Parse `v1.17.17` (the leading `v` is required: that is how kubelets print it). */
export function parseKubeVersion(text: string): KubeletVersion {
  const raw = text.trim();
  const m = VERSION_RE.exec(raw);
  if (!m) throw new KubeletVersionInvalidError(text);
  const major = Number(m[1]);
  const minor = Number(m[2]);
  const patch = Number(m[3]);
  const prerelease = m[4];
  const build = m[5];
  const placeholder = raw.includes('$Format') || (major === 0 && minor === 0 && patch === 0);
  return { raw, major, minor, patch, prerelease, build, placeholder };
}

/**
 * Parse what `kubelet --version` prints: `Kubernetes v1.10.13` (one line; some builds print to
 * stderr, so pass both streams joined). Tolerates surrounding whitespace and log noise lines
 * before it (for example klog deprecation warnings); the last `Kubernetes v...` line wins.
 */
export function parseKubeletVersionOutput(output: string): KubeletVersion {
  let found: string | undefined;
  for (const line of output.split(/\r?\n/)) {
    const m = /^\s*Kubernetes\s+(v\S+)\s*$/.exec(line);
    if (m?.[1] !== undefined) found = m[1];
  }
  if (found === undefined) throw new KubeletVersionInvalidError(output);
  return parseKubeVersion(found);
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

/** Semver-style order (build metadata ignored). Negative when a < b. */
export function compareKubeVersions(a: KubeletVersion, b: KubeletVersion): number {
  if (a.major !== b.major) return a.major - b.major;
  if (a.minor !== b.minor) return a.minor - b.minor;
  if (a.patch !== b.patch) return a.patch - b.patch;
  return comparePrerelease(a.prerelease, b.prerelease);
}

/** Throws KUBELET_VERSION_PLACEHOLDER when the version is a placeholder build. */
export function assertRealVersion(v: KubeletVersion, role: string): void {
  if (v.placeholder) throw new KubeletVersionPlaceholderError(v.raw, role);
}

export type UpgradeStepKind = 'same' | 'patch' | 'minor';

/**
 * The skew rule for one step `from -> to`: same version (nothing to do), a patch step, or exactly
 * one minor step. Throws KUBELET_DOWNGRADE for a step backwards (unless `allowDowngrade`, which a
 * rollback passes; then a backwards step of at most one minor is accepted and reported as its
 * kind), KUBELET_VERSION_SKEW for more than one minor or a major change, and
 * KUBELET_VERSION_PLACEHOLDER when either side is a placeholder build.
 */
export function checkUpgradeStep(from: KubeletVersion, to: KubeletVersion, options: { allowDowngrade?: boolean } = {}): UpgradeStepKind {
  assertRealVersion(from, 'running');
  assertRealVersion(to, 'target');
  const order = compareKubeVersions(from, to);
  if (order === 0) return 'same';
  const [older, newer] = order < 0 ? [from, to] : [to, from];
  if (order > 0 && !options.allowDowngrade) throw new KubeletDowngradeError(from.raw, to.raw);
  if (older.major !== newer.major || newer.minor - older.minor > 1) throw new KubeletVersionSkewError(from.raw, to.raw);
  return older.minor === newer.minor ? 'patch' : 'minor';
}

/** `1.16` for v1.16.3: the key the knowledge tables use. */
export function minorOf(v: KubeletVersion): string {
  return `${v.major}.${v.minor}`;
}
