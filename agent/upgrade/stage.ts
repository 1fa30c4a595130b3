/**
 * Staged kubelet binaries, one per version under `<stateDir>/binaries/<version>/`: `kubelet` (the
 * binary, 0755) and `meta.json` (version, sha256, size, patch, and the binary's inode).
 *
 * The store's state is always one whole, verified binary per version or nothing (issue 8,
 * defect 11):
 * - one upload (or removal) per version at a time; a second one is refused with STAGE_BUSY, so a
 *   failing upload can never delete what a concurrent one committed;
 * - an upload is streamed to a temp file in `binaries/` (never inside a version directory),
 *   checked (size, sha256, `--version`), fsynced, renamed into place, and only then described by
 *   meta.json; meta.json names the inode it describes, so a binary and metadata from two
 *   different uploads (or a crash between the two renames) read as "not staged", never as a
 *   binary with someone else's checksum;
 * - the already-staged shortcut hashes the stream it is sent and refuses one that is not the
 *   staged binary;
 * - a quota bounds the bytes staged plus the bytes being uploaded.
 */
import { createHash, randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../lib/logger.ts';
import { Codes, InvalidInputError, KipError, PreconditionError } from './errors.ts';
import { TEMP_MARK, type FileSystem } from './fs.ts';
import type { KubeletBinaryPort } from './ports.ts';
import { ResourceExhaustedError, StageCodes } from './stage-errors.ts';
import type { StagedBinaryInfo, StageMetadata, StageResult } from './types.ts';
import { parseRealVersion } from '../../lib/knowledge/version.ts';
import { COMPONENT_NAMES, isComponentName, type ComponentName } from '../components/types.ts';
import { UnknownComponentNameError } from '../components/errors.ts';

/** The component a request names ('' = kubelet, as for every caller from before components). */
export function stagedComponent(name: string | undefined): ComponentName {
  const n = name ?? '';
  if (n === '') return 'kubelet';
  if (!isComponentName(n)) throw new UnknownComponentNameError(n.slice(0, 64), COMPONENT_NAMES);
  return n;
}

export const MAX_BINARY_BYTES = 1 << 30;
/** Longest version accepted: it becomes a directory name (NAME_MAX is 255). */
export const MAX_VERSION_CHARS = 128;

export interface StageStoreDeps {
  readonly fs: FileSystem;
  readonly kubelet: KubeletBinaryPort;
  readonly stateDir: string;
  /** The skip-file path as the kubelet sees it: a patched binary contains this string. */
  readonly skipFilePath: string;
  readonly logger: Logger;
  /** Bytes all staged binaries and uploads in flight may take together; default unbounded. */
  readonly quotaBytes?: number;
}

interface MetaFile {
  readonly version: string;
  readonly sha256: string;
  readonly size: number;
  readonly patched: boolean;
  /** The inode of the binary this metadata describes (absent in metadata of older agents). */
  readonly ino?: number;
}

function isMetaFile(v: unknown): v is MetaFile {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o.version === 'string' && typeof o.sha256 === 'string' && typeof o.size === 'number' && typeof o.patched === 'boolean' && (o.ino === undefined || typeof o.ino === 'number');
}

export function validateStagedVersion(version: string, what = 'staged binary version'): void {
  if (version.length > MAX_VERSION_CHARS) {
    throw new InvalidInputError(Codes.VERSION_INVALID, `${what} is ${version.length} characters long; a kubelet version has at most ${MAX_VERSION_CHARS}`, { length: version.length });
  }
  parseRealVersion(version, what);
}

export function validateStageMetadata(meta: StageMetadata): void {
  validateStagedVersion(meta.version);
  if (!/^[0-9a-f]{64}$/.test(meta.sha256)) {
    throw new InvalidInputError(Codes.STAGE_BAD_METADATA, 'sha256 must be 64 lower-case hex digits', { sha256: meta.sha256 });
  }
  if (!Number.isSafeInteger(meta.size) || meta.size <= 0 || meta.size > MAX_BINARY_BYTES) {
    throw new InvalidInputError(Codes.STAGE_BAD_METADATA, `size must be between 1 and ${MAX_BINARY_BYTES} bytes`, { size: meta.size });
  }
}

function isVersionName(name: string): boolean {
  try {
    validateStagedVersion(name);
    return true;
  } catch {
    return false;
  }
}

/**
 * Staged binaries are stored per component and version: the kubelet's where they always were
 * (`binaries/<version>/kubelet`, so directories staged by older agents are found as they are),
 * every other component's under `binaries/<component>/<version>/<component>` (a component name
 * is never a version, so the two layouts cannot collide).
 */
export class StageStore {
  /** Versions an active run depends on; staging over them (or removing them) is refused. */
  private readonly inUse = new Set<string>();
  /** Versions with an upload or removal in progress. */
  private readonly busy = new Set<string>();
  /** Declared sizes of the uploads in progress, counted against the quota. */
  private readonly reserved = new Map<string, number>();

  constructor(private readonly deps: StageStoreDeps) {}

  private root(): string {
    return path.join(this.deps.stateDir, 'binaries');
  }

  dir(version: string, component: ComponentName = 'kubelet'): string {
    return component === 'kubelet' ? path.join(this.root(), version) : path.join(this.root(), component, version);
  }

  binaryPath(version: string, component: ComponentName = 'kubelet'): string {
    return path.join(this.dir(version, component), component);
  }

  markInUse(version: string, used: boolean, component: ComponentName = 'kubelet'): void {
    const k = `${component}/${version}`;
    if (used) this.inUse.add(k);
    else this.inUse.delete(k);
  }

  /** The staged binary of a version, when its metadata describes the file that is there. */
  async get(version: string, component: ComponentName = 'kubelet'): Promise<StagedBinaryInfo | undefined> {
    validateStagedVersion(version);
    const raw = await this.deps.fs.readText(path.join(this.dir(version, component), 'meta.json'));
    if (raw === undefined) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (err) {
      this.deps.logger.warn({ err, version }, 'ignoring unreadable staged metadata');
      return undefined;
    }
    if (!isMetaFile(parsed) || parsed.version !== version) return undefined;
    const st = await this.deps.fs.stat(this.binaryPath(version, component));
    if (!st || st.size !== parsed.size || (parsed.ino !== undefined && st.ino !== parsed.ino)) return undefined;
    return { version: parsed.version, sha256: parsed.sha256, size: parsed.size, patched: parsed.patched, path: this.binaryPath(version, component), component };
  }

  /** Every staged binary, the kubelet's first, then per component in COMPONENT_NAMES order. */
  async list(): Promise<StagedBinaryInfo[]> {
    const out: StagedBinaryInfo[] = [];
    for (const component of COMPONENT_NAMES) {
      const dir = component === 'kubelet' ? this.root() : path.join(this.root(), component);
      for (const v of await this.deps.fs.list(dir)) {
        if (!isVersionName(v)) continue;
        const info = await this.get(v, component);
        if (info) out.push(info);
      }
    }
    return out;
  }

  /** Start-up: removes the temp files of uploads a crash interrupted (this and older layouts). */
  async removeStaleTemps(): Promise<number> {
    let removed = 0;
    const drop = async (file: string) => {
      this.deps.logger.warn({ file }, 'removing a partial upload left by a crash');
      await this.deps.fs.removeTree(file);
      removed += 1;
    };
    for (const name of await this.deps.fs.list(this.root())) {
      if (name.startsWith(TEMP_MARK)) await drop(path.join(this.root(), name));
      else if (isVersionName(name)) {
        for (const inner of await this.deps.fs.list(this.dir(name)).catch(() => [] as string[])) {
          if (inner.startsWith(TEMP_MARK)) await drop(path.join(this.dir(name), inner));
        }
      } else if (isComponentName(name) && name !== 'kubelet') {
        for (const v of await this.deps.fs.list(path.join(this.root(), name)).catch(() => [] as string[])) {
          if (v.startsWith(TEMP_MARK)) await drop(path.join(this.root(), name, v));
        }
      }
    }
    return removed;
  }

  private claim(key: string, version: string, what: string): () => void {
    if (this.busy.has(key)) {
      throw new PreconditionError(StageCodes.STAGE_BUSY, `another upload or removal of ${version} is in progress; ${what} again when it has finished`, { version });
    }
    this.busy.add(key);
    return () => {
      this.busy.delete(key);
      this.reserved.delete(key);
    };
  }

  private async checkQuota(key: string, size: number): Promise<void> {
    const quota = this.deps.quotaBytes;
    if (quota === undefined) return;
    const staged = (await this.list()).filter((b) => `${b.component}/${b.version}` !== key).reduce((n, b) => n + b.size, 0);
    const inFlight = [...this.reserved.entries()].filter(([v]) => v !== key).reduce((n, [, s]) => n + s, 0);
    if (staged + inFlight + size > quota) {
      throw new ResourceExhaustedError(
        StageCodes.STAGE_QUOTA_EXCEEDED,
        `staging ${size} bytes would exceed the staging quota of ${quota} bytes (${staged} staged, ${inFlight} being uploaded): remove a staged version (RemoveStaged) or raise stagingQuotaBytes`,
        { quota, staged, inFlight, size },
      );
    }
    this.reserved.set(key, size);
  }

  async stage(meta: StageMetadata, chunks: AsyncIterable<Buffer>): Promise<StageResult> {
    const component = stagedComponent(meta.component);
    validateStageMetadata(meta);
    const key = `${component}/${meta.version}`;
    const release = this.claim(key, meta.version, 'stage it');
    try {
      const existing = await this.get(meta.version, component);
      if (existing && existing.sha256 === meta.sha256) return await this.confirmStaged(existing, meta, chunks);
      if (this.inUse.has(key)) {
        throw new PreconditionError(Codes.STAGE_IN_USE, `${meta.version} is used by the running upgrade; stage again when it has finished`, { version: meta.version });
      }
      await this.checkQuota(key, meta.size);
      return await this.upload(meta, component, chunks);
    } finally {
      release();
    }
  }

  /** The same binary again: nothing is written, but the stream must be that binary. */
  private async confirmStaged(existing: StagedBinaryInfo, meta: StageMetadata, chunks: AsyncIterable<Buffer>): Promise<StageResult> {
    const hash = createHash('sha256');
    let size = 0;
    for await (const c of chunks) {
      size += c.length;
      if (size > meta.size) throw new InvalidInputError(Codes.STAGE_SIZE_MISMATCH, `upload is larger than the declared ${meta.size} bytes`, { declared: meta.size });
      hash.update(c);
    }
    if (size !== meta.size) throw new InvalidInputError(Codes.STAGE_SIZE_MISMATCH, `upload is truncated: received ${size} of ${meta.size} bytes`, { declared: meta.size, received: size });
    const sha = hash.digest('hex');
    if (sha !== meta.sha256) {
      throw new InvalidInputError(Codes.STAGE_SHA256_MISMATCH, `sha256 of the upload is ${sha}, not the declared ${meta.sha256}`, { declared: meta.sha256, actual: sha });
    }
    this.deps.logger.info({ version: meta.version, size }, 'binary already staged (upload verified)');
    return { binary: existing, alreadyStaged: true };
  }

  private async upload(meta: StageMetadata, component: ComponentName, chunks: AsyncIterable<Buffer>): Promise<StageResult> {
    await this.deps.fs.mkdirp(this.root());
    const tmp = path.join(this.root(), `${TEMP_MARK}upload.${randomBytes(6).toString('hex')}`);
    let renamed = false;
    try {
      const hash = createHash('sha256');
      // Only the kubelet reads the skip file: the patch means nothing in another binary. Its
      // markers are looked for in the same pass as the hash, where the port can (no second read).
      const scanner = component === 'kubelet' ? this.deps.kubelet.patchScanner?.(this.deps.skipFilePath) : undefined;
      let size = 0;
      const fh = await open(tmp, 'w', 0o700);
      try {
        for await (const chunk of chunks) {
          size += chunk.length;
          if (size > meta.size) {
            throw new InvalidInputError(Codes.STAGE_SIZE_MISMATCH, `upload is larger than the declared ${meta.size} bytes`, { declared: meta.size });
          }
          hash.update(chunk);
          scanner?.push(chunk);
          await fh.write(chunk);
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      if (size !== meta.size) {
        throw new InvalidInputError(Codes.STAGE_SIZE_MISMATCH, `upload is truncated: received ${size} of ${meta.size} bytes`, { declared: meta.size, received: size });
      }
      const sha = hash.digest('hex');
      if (sha !== meta.sha256) {
        throw new InvalidInputError(Codes.STAGE_SHA256_MISMATCH, `sha256 of the upload is ${sha}, not the declared ${meta.sha256}`, { declared: meta.sha256, actual: sha });
      }
      const printed = await this.printedVersion(tmp, meta.version);
      if (printed !== meta.version) {
        throw new InvalidInputError(Codes.STAGE_VERSION_MISMATCH, `the binary says it is ${printed || '(nothing)'}, not the claimed ${meta.version}`, { claimed: meta.version, printed });
      }
      await this.checkProgram(tmp, component, meta.version);
      const patched = component === 'kubelet' && (scanner ? scanner.patched : await this.deps.kubelet.isPatched(tmp, this.deps.skipFilePath));
      const dir = this.dir(meta.version, component);
      const bin = this.binaryPath(meta.version, component);
      await this.deps.fs.mkdirp(dir);
      if (component !== 'kubelet') await this.deps.fs.fsyncDir(path.dirname(path.dirname(dir)));
      // meta.json goes first (removed), so no reader ever pairs the new binary with old metadata.
      await this.deps.fs.remove(path.join(dir, 'meta.json'));
      await this.deps.fs.rename(tmp, bin);
      renamed = true;
      await this.deps.fs.fsyncDir(dir);
      await this.deps.fs.fsyncDir(path.dirname(dir));
      const st = await this.deps.fs.stat(bin);
      const info: MetaFile = { version: meta.version, sha256: sha, size, patched, ...(st ? { ino: st.ino } : {}) };
      await this.deps.fs.writeAtomic(path.join(dir, 'meta.json'), `${JSON.stringify(info, null, 2)}\n`);
      this.deps.logger.info({ version: meta.version, sha256: sha, size, patched, component }, 'binary staged');
      return { binary: { version: meta.version, sha256: sha, size, patched, path: bin, component }, alreadyStaged: false };
    } finally {
      if (!renamed) await this.deps.fs.remove(tmp);
    }
  }

  /**
   * Every Kubernetes binary prints the same `Kubernetes vX.Y.Z`, so `--version` cannot tell a
   * kube-proxy from a kube-apiserver; the program name in `--help`'s usage line can (cobra:
   * `Usage:\n  kube-apiserver [flags]`, agent/components/identity.ts). Another component's name
   * is refused for every component; no name at all only for the components other than the
   * kubelet (kubelet builds and stand-ins of older agents' callers are taken as before).
   */
  private async checkProgram(file: string, component: ComponentName, version: string): Promise<void> {
    const program = this.deps.kubelet.program ? await this.deps.kubelet.program(file) : undefined;
    if (program === component) return;
    if (program === undefined && component === 'kubelet') return;
    throw new InvalidInputError(
      StageCodes.STAGE_WRONG_COMPONENT,
      program === undefined
        ? `the binary staged as ${component} ${version} does not name itself in its --help usage line: upload the ${component} binary`
        : `the binary staged as ${component} ${version} is ${program} (its --help usage line says so): upload the ${component} binary, or stage this one as ${program}`,
      { claimed: component, program: program ?? '' },
    );
  }

  /** `--version` of an upload; a binary that cannot say its version is the caller's mistake. */
  private async printedVersion(file: string, claimed: string): Promise<string> {
    try {
      return await this.deps.kubelet.version(file);
    } catch (err) {
      if (err instanceof InvalidInputError) throw err;
      const why = err instanceof Error ? err.message : String(err);
      throw new InvalidInputError(
        StageCodes.STAGE_VERSION_UNREADABLE,
        `the uploaded binary claimed as ${claimed} did not print its version (${why}): upload a kubelet built for this node`,
        { claimed, cause: err instanceof KipError ? err.code : 'ERROR' },
        { cause: err },
      );
    }
  }

  /** Removes a staged version. False when nothing was staged under it. */
  async remove(version: string, componentName?: string): Promise<{ removed: boolean; freedBytes: number }> {
    const component = stagedComponent(componentName);
    validateStagedVersion(version);
    const key = `${component}/${version}`;
    const release = this.claim(key, version, 'remove it');
    try {
      if (this.inUse.has(key)) {
        throw new PreconditionError(Codes.STAGE_IN_USE, `${version} is used by the running upgrade; remove it when the run has finished`, { version });
      }
      const dir = this.dir(version, component);
      const st = await this.deps.fs.stat(dir);
      if (!st) return { removed: false, freedBytes: 0 };
      const bin = await this.deps.fs.stat(this.binaryPath(version, component));
      // meta.json first: from then on the version reads as not staged, whatever else survives a crash.
      await this.deps.fs.remove(path.join(dir, 'meta.json'));
      await this.deps.fs.fsyncDir(dir);
      await this.deps.fs.removeTree(dir);
      await this.deps.fs.fsyncDir(path.dirname(dir));
      this.deps.logger.info({ version, freedBytes: bin?.size ?? 0 }, 'staged binary removed');
      return { removed: true, freedBytes: bin?.size ?? 0 };
    } finally {
      release();
    }
  }
}
