/**
 * Staged kubelet binaries, one per version under `<stateDir>/binaries/<version>/`: `kubelet` (the
 * binary, 0755) and `meta.json`. An upload is streamed to a temp file in that directory, checked
 * (size, sha256, `--version`), fsynced and renamed into place; a failed upload leaves nothing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../lib/logger.ts';
import { Codes, InvalidInputError, PreconditionError } from './errors.ts';
import { TEMP_MARK, type FileSystem } from './fs.ts';
import type { KubeletBinaryPort } from './ports.ts';
import type { StagedBinaryInfo, StageMetadata, StageResult } from './types.ts';
import { parseRealVersion } from '../../lib/knowledge/version.ts';

export const MAX_BINARY_BYTES = 1 << 30;

export interface StageStoreDeps {
  readonly fs: FileSystem;
  readonly kubelet: KubeletBinaryPort;
  readonly stateDir: string;
  /** The skip-file path as the kubelet sees it: a patched binary contains this string. */
  readonly skipFilePath: string;
  readonly logger: Logger;
  readonly versionTimeoutMs?: number;
}

interface MetaFile {
  readonly version: string;
  readonly sha256: string;
  readonly size: number;
  readonly patched: boolean;
}

function isMetaFile(v: unknown): v is MetaFile {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o.version === 'string' && typeof o.sha256 === 'string' && typeof o.size === 'number' && typeof o.patched === 'boolean';
}

export function validateStageMetadata(meta: StageMetadata): void {
  parseRealVersion(meta.version, 'staged binary version');
  if (!/^[0-9a-f]{64}$/.test(meta.sha256)) {
    throw new InvalidInputError(Codes.STAGE_BAD_METADATA, 'sha256 must be 64 lower-case hex digits', { sha256: meta.sha256 });
  }
  if (!Number.isSafeInteger(meta.size) || meta.size <= 0 || meta.size > MAX_BINARY_BYTES) {
    throw new InvalidInputError(Codes.STAGE_BAD_METADATA, `size must be between 1 and ${MAX_BINARY_BYTES} bytes`, { size: meta.size });
  }
}

export class StageStore {
  /** Versions an active run depends on; staging over them is refused. */
  private readonly inUse = new Set<string>();

  constructor(private readonly deps: StageStoreDeps) {}

  dir(version: string): string {
    return path.join(this.deps.stateDir, 'binaries', version);
  }

  binaryPath(version: string): string {
    return path.join(this.dir(version), 'kubelet');
  }

  markInUse(version: string, used: boolean): void {
    if (used) this.inUse.add(version);
    else this.inUse.delete(version);
  }

  /** The staged binary of a version, when its metadata and file are both there and sizes agree. */
  async get(version: string): Promise<StagedBinaryInfo | undefined> {
    const raw = await this.deps.fs.readText(path.join(this.dir(version), 'meta.json'));
    if (raw === undefined) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (err) {
      this.deps.logger.warn({ err, version }, 'ignoring unreadable staged metadata');
      return undefined;
    }
    if (!isMetaFile(parsed) || parsed.version !== version) return undefined;
    const st = await this.deps.fs.stat(this.binaryPath(version));
    if (!st || st.size !== parsed.size) return undefined;
    return { ...parsed, path: this.binaryPath(version) };
  }

  async list(): Promise<StagedBinaryInfo[]> {
    const out: StagedBinaryInfo[] = [];
    for (const v of await this.deps.fs.list(path.join(this.deps.stateDir, 'binaries'))) {
      const info = await this.get(v);
      if (info) out.push(info);
    }
    return out;
  }

  async stage(meta: StageMetadata, chunks: AsyncIterable<Buffer>): Promise<StageResult> {
    validateStageMetadata(meta);
    const existing = await this.get(meta.version);
    if (existing && existing.sha256 === meta.sha256) {
      // Same binary: consume the upload without writing anything.
      let size = 0;
      for await (const c of chunks) size += c.length;
      this.deps.logger.info({ version: meta.version, size }, 'binary already staged');
      return { binary: existing, alreadyStaged: true };
    }
    if (this.inUse.has(meta.version)) {
      throw new PreconditionError(Codes.STAGE_IN_USE, `${meta.version} is used by the running upgrade; stage again when it has finished`, { version: meta.version });
    }
    const dir = this.dir(meta.version);
    const dirExisted = (await this.deps.fs.stat(dir)) !== undefined;
    await this.deps.fs.mkdirp(dir);
    const tmp = path.join(dir, `${TEMP_MARK}upload.${randomBytes(4).toString('hex')}`);
    let committed = false;
    try {
      const hash = createHash('sha256');
      let size = 0;
      const fh = await open(tmp, 'w', 0o700);
      try {
        for await (const chunk of chunks) {
          size += chunk.length;
          if (size > meta.size) {
            throw new InvalidInputError(Codes.STAGE_SIZE_MISMATCH, `upload is larger than the declared ${meta.size} bytes`, { declared: meta.size });
          }
          hash.update(chunk);
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
      const printed = await this.deps.kubelet.version(tmp);
      if (printed !== meta.version) {
        throw new InvalidInputError(Codes.STAGE_VERSION_MISMATCH, `the binary says it is ${printed || '(nothing)'}, not the claimed ${meta.version}`, { claimed: meta.version, printed });
      }
      const patched = await this.deps.fs.contains(tmp, this.deps.skipFilePath);
      await this.deps.fs.rename(tmp, this.binaryPath(meta.version));
      committed = true;
      const info: MetaFile = { version: meta.version, sha256: sha, size, patched };
      await this.deps.fs.writeAtomic(path.join(dir, 'meta.json'), `${JSON.stringify(info, null, 2)}\n`);
      this.deps.logger.info({ version: meta.version, sha256: sha, size, patched }, 'binary staged');
      return { binary: { ...info, path: this.binaryPath(meta.version) }, alreadyStaged: false };
    } finally {
      if (!committed) {
        await this.deps.fs.remove(tmp);
        if (!dirExisted) await this.deps.fs.removeTree(dir);
      }
    }
  }
}
