import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { Exec } from '../../lib/exec.ts';
import { KubeletBinaryReadError, KubeletBinaryVersionError } from './errors.ts';
import { normalizeFlagName } from './cmdline.ts';
import { parseVersionOutput, type KubeVersion } from '../../lib/knowledge/version.ts';

/** Default skip-file path of the upstream kubelet patch (issue 3, "The skip file"). */
export const DEFAULT_SKIP_FILE_PATH = '/tmp/cache.version.save';

/** The part of a FileHandle the scanner needs (node:fs/promises `open(path, 'r')` satisfies it). */
export interface ReadableFile {
  read(buffer: Uint8Array, offset: number, length: number, position: number | null): Promise<{ bytesRead: number }>;
  close(): Promise<void>;
}

export interface BinaryFs {
  open(path: string): Promise<ReadableFile>;
}

export const nodeBinaryFs: BinaryFs = { open: (path) => open(path, 'r') };

/**
 * Finds a byte string in a stream of chunks without keeping more than the chunk and
 * `needle.length - 1` bytes of the previous one, so a match split across chunks is found.
 */
export class StreamSearcher {
  private readonly needle: Buffer;
  private tail: Buffer = Buffer.alloc(0);
  private matched = false;

  constructor(needle: string | Uint8Array) {
    this.needle = typeof needle === 'string' ? Buffer.from(needle, 'utf8') : Buffer.from(needle);
    if (this.needle.length === 0) throw new RangeError('empty needle');
  }

  /** Feed the next chunk; returns whether the needle has been seen so far. */
  push(chunk: Uint8Array): boolean {
    if (this.matched) return true;
    const data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const keep = this.needle.length - 1;
    // Only the seam is copied (the kept tail and the chunk's first needle-1 bytes), never the
    // chunk: a 1 MiB chunk copied per needle was a third of the agent's staging CPU.
    const seam = this.tail.length === 0 ? undefined : Buffer.concat([this.tail, data.subarray(0, keep)]);
    if ((seam && seam.indexOf(this.needle) >= 0) || data.indexOf(this.needle) >= 0) {
      this.matched = true;
      this.tail = Buffer.alloc(0);
      return true;
    }
    const joined = data.length >= keep ? data : Buffer.concat([this.tail, data]);
    this.tail = Buffer.from(joined.subarray(Math.max(0, joined.length - keep)));
    return false;
  }

  get found(): boolean {
    return this.matched;
  }
}

/**
 * What marks a kubelet built with the skip-file patch, as a Go build really contains it. The patch
 * (github.com/cloudusers/UpdateKubeletVersionIgnoreContainerRestart,
 * kubernetes-1.9.1.IgnoreContainerRestart.patch) adds package pkg/kubelet/cache_version, whose
 * SubCachVersion builds the path at run time: `fmt.Sprintf("/%s/%s", "tmp", "cache.version.save")`.
 * So the literal "/tmp/cache.version.save" is in no real binary (issue 8, defect 2), but
 * - "cache.version.save" is, as its own string constant (Go keeps string literals in .rodata);
 * - "pkg/kubelet/cache_version" is, as the prefix of every function name of that package
 *   (k8s.io/kubernetes/pkg/kubelet/cache_version.SubCachVersion, ...) in the Go pclntab, which
 *   `-ldflags=-s -w` does not remove (it strips only the ELF symbol table and DWARF; the runtime
 *   needs pclntab for stack traces).
 * A binary is patched when it contains every marker. Ports of the patch to other versions that
 * rename the package or the file configure their own list.
 */
export const DEFAULT_PATCH_MARKERS: readonly string[] = ['cache.version.save', 'pkg/kubelet/cache_version'];

export interface MarkerHit {
  readonly marker: string;
  readonly found: boolean;
}

export interface ScanResult {
  readonly sha256: string;
  readonly size: number;
  /** Every needle occurs. */
  readonly found: boolean;
  readonly markers: readonly MarkerHit[];
}

/**
 * One streaming pass: sha256, size and which needles occur. Memory: one chunk plus the longest needle.
 * Without `withSha256` (a caller that only asks about the needles, as staging does right after
 * hashing the upload) nothing is hashed, the read stops once every needle is found, and
 * sha256 is '' and size the bytes read.
 */
export async function scanFile(path: string, fs: BinaryFs, needles: string | readonly string[], chunkSize = 1 << 20, withSha256 = true): Promise<ScanResult> {
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new RangeError(`bad chunk size ${chunkSize}`);
  const list = typeof needles === 'string' ? [needles] : [...needles];
  if (list.length === 0) throw new RangeError('no needle to search for');
  const searchers = list.map((n) => new StreamSearcher(n));
  let handle: ReadableFile;
  try {
    handle = await fs.open(path);
  } catch (err) {
    throw new KubeletBinaryReadError(path, err);
  }
  const hash = withSha256 ? createHash('sha256') : undefined;
  const buffer = Buffer.alloc(chunkSize);
  let size = 0;
  try {
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, chunkSize, null);
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      hash?.update(chunk);
      let all = true;
      for (const s of searchers) all = s.push(chunk) && all;
      size += bytesRead;
      if (all && !hash) break;
    }
  } catch (err) {
    throw new KubeletBinaryReadError(path, err);
  } finally {
    await handle.close();
  }
  const markers = list.map((marker, i) => ({ marker, found: searchers[i]!.found }));
  return { sha256: hash ? hash.digest('hex') : '', size, found: markers.every((m) => m.found), markers };
}

/**
 * Whether the binary at `path` carries the skip-file patch (every marker present), streamed.
 * The agent's staging and binary-facts paths call this (agent/upgrade: StageStore, wiring isPatched).
 */
export async function detectKubeletPatch(path: string, fs: BinaryFs = nodeBinaryFs, markers: readonly string[] = DEFAULT_PATCH_MARKERS): Promise<{ patched: boolean; markers: readonly MarkerHit[] }> {
  const r = await scanFile(path, fs, markers, 1 << 20, false);
  return { patched: r.found, markers: r.markers };
}

export interface InspectOptions {
  /** The skip-file path the patched kubelet reads (reported only); default /tmp/cache.version.save. */
  readonly skipFilePath?: string;
  /** Strings that together mark a patched build; default DEFAULT_PATCH_MARKERS. */
  readonly patchMarkers?: readonly string[];
  readonly chunkSize?: number;
  /** Timeout for `--version` (and `--help`); default 10 s. */
  readonly timeoutMs?: number;
}

export interface KubeletBinaryInfo {
  readonly path: string;
  readonly version: KubeVersion;
  /** What `--version` printed (stdout then stderr). */
  readonly versionOutput: string;
  readonly sha256: string;
  readonly size: number;
  /** The binary contains every patch marker: it carries the patch that skips hash checks. */
  readonly patched: boolean;
  /** Each marker and whether it was found (a partial hit names a port with other markers). */
  readonly patchMarkers: readonly MarkerHit[];
  readonly skipFilePath: string;
}

/** Run `path --version` with a timeout and parse `Kubernetes vX.Y.Z`. */
export async function readKubeletVersion(path: string, exec: Exec, timeoutMs = 10_000): Promise<{ version: KubeVersion; output: string }> {
  const r = await exec(path, ['--version'], { timeoutMs, killGraceMs: 1_000 });
  const output = `${r.stdout}${r.stderr}`;
  if (r.timedOut) throw new KubeletBinaryVersionError(path, `timed out after ${timeoutMs} ms`, { timeoutMs });
  if (r.exitCode !== 0) {
    throw new KubeletBinaryVersionError(path, `exited with ${r.exitCode ?? r.signal ?? 'unknown status'}: ${output.trim().slice(0, 300)}`, {
      exitCode: r.exitCode,
      signal: r.signal,
    });
  }
  try {
    return { version: parseVersionOutput(output, `${path} --version`), output };
  } catch (err) {
    throw new KubeletBinaryVersionError(path, `unexpected output ${JSON.stringify(output.trim().slice(0, 300))}`, { cause: String(err) });
  }
}

/**
 * Inspect a kubelet binary: its version (running `path --version`), sha256 and size (streamed),
 * and whether it carries the skip-file patch. Nothing is loaded whole into memory.
 */
export async function inspectKubeletBinary(path: string, deps: { exec: Exec; fs?: BinaryFs }, options: InspectOptions = {}): Promise<KubeletBinaryInfo> {
  const skipFilePath = options.skipFilePath ?? DEFAULT_SKIP_FILE_PATH;
  const [scan, ver] = await Promise.all([
    scanFile(path, deps.fs ?? nodeBinaryFs, options.patchMarkers ?? DEFAULT_PATCH_MARKERS, options.chunkSize),
    readKubeletVersion(path, deps.exec, options.timeoutMs),
  ]);
  return {
    path,
    version: ver.version,
    versionOutput: ver.output,
    sha256: scan.sha256,
    size: scan.size,
    patched: scan.found,
    patchMarkers: scan.markers,
    skipFilePath,
  };
}

/**
 * The flags a kubelet binary accepts, from its `--help` (cobra/pflag usage: lines like
 * `      --address ip   ...` or `  -v, --v Level ...`). Names are normalized (`--name`). Used as
 * `targetFlags` by planFlagMigration. Throws KUBELET_BINARY_VERSION_FAILED when `--help` fails or
 * lists nothing.
 */
export async function listKubeletFlags(path: string, exec: Exec, timeoutMs = 10_000): Promise<Set<string>> {
  const r = await exec(path, ['--help'], { timeoutMs, killGraceMs: 1_000 });
  if (r.timedOut) throw new KubeletBinaryVersionError(path, `--help timed out after ${timeoutMs} ms`, { timeoutMs });
  return parseHelpFlags(`${r.stdout}\n${r.stderr}`, path);
}

export function parseHelpFlags(text: string, path = 'kubelet'): Set<string> {
  const flags = new Set<string>();
  for (const m of text.matchAll(/^\s+(?:-[A-Za-z0-9], )?--([A-Za-z0-9][A-Za-z0-9_.-]*)/gm)) {
    if (m[1] !== undefined) flags.add(normalizeFlagName(m[1]));
  }
  if (flags.size === 0) throw new KubeletBinaryVersionError(path, '--help listed no flags');
  return flags;
}
