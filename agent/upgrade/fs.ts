/**
 * The file-system adapter of the upgrade: crash-safe writes (temp file beside the target, fsync,
 * rename, fsync the directory), streaming checksums and copies. Nothing here holds a whole
 * binary in memory.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import path from 'node:path';
import { KipError } from '../../lib/errors.ts';

export interface FileStat {
  /** Device and inode: the identity of the file across mount namespaces. */
  readonly dev: number;
  readonly size: number;
  readonly mode: number;
  readonly mtimeMs: number;
  readonly ino: number;
}

export interface FileSystem {
  readText(file: string): Promise<string | undefined>;
  readBytes(file: string): Promise<Buffer | undefined>;
  stat(file: string): Promise<FileStat | undefined>;
  /** Atomic replace: temp beside, fsync, rename, fsync dir. */
  writeAtomic(file: string, data: string | Buffer, mode?: number): Promise<void>;
  /** Atomic copy: copy to a temp beside the target, fsync, chmod, rename, fsync dir. */
  copyAtomic(from: string, to: string, mode?: number): Promise<void>;
  /**
   * Like copyAtomic, hashing while copying: the target is replaced only when the copy's sha256 is
   * `sha256` (else COPY_CHECKSUM_MISMATCH and the target is untouched).
   */
  copyAtomicVerified(from: string, to: string, mode: number, sha256: string): Promise<void>;
  sha256(file: string): Promise<string | undefined>;
  /** True when the file contains `needle`, read in chunks. */
  contains(file: string, needle: string): Promise<boolean>;
  remove(file: string): Promise<void>;
  removeTree(dir: string): Promise<void>;
  mkdirp(dir: string): Promise<void>;
  list(dir: string): Promise<string[]>;
  rename(from: string, to: string): Promise<void>;
  fsyncDir(dir: string): Promise<void>;
  statfs(dir: string): Promise<{ freeBytes: number; totalBytes: number } | undefined>;
}

function isNotFound(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && (err as { code: unknown }).code === 'ENOENT';
}

/** Temp files the agent leaves beside a target while writing it; recovery removes stale ones. */
export const TEMP_MARK = '.kip-tmp-';

export function tempPathFor(target: string): string {
  return path.join(path.dirname(target), `${TEMP_MARK}${path.basename(target)}.${randomBytes(4).toString('hex')}`);
}

async function fsyncFile(file: string): Promise<void> {
  const fh = await fsp.open(file, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export const nodeFileSystem: FileSystem = {
  async readText(file) {
    try {
      return await fsp.readFile(file, 'utf8');
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  },
  async readBytes(file) {
    try {
      return await fsp.readFile(file);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  },
  async stat(file) {
    try {
      const s = await fsp.stat(file);
      return { dev: s.dev, size: s.size, mode: s.mode & 0o7777, mtimeMs: s.mtimeMs, ino: s.ino };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  },
  async writeAtomic(file, data, mode) {
    const tmp = tempPathFor(file);
    try {
      const fh = await fsp.open(tmp, 'w', mode ?? 0o644);
      try {
        await fh.writeFile(data);
        if (mode !== undefined) await fh.chmod(mode);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fsp.rename(tmp, file);
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw err;
    }
    await this.fsyncDir(path.dirname(file));
  },
  async copyAtomic(from, to, mode) {
    const tmp = tempPathFor(to);
    try {
      await fsp.copyFile(from, tmp);
      const m = mode ?? (await fsp.stat(from)).mode & 0o7777;
      await fsp.chmod(tmp, m);
      await fsyncFile(tmp);
      await fsp.rename(tmp, to);
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw err;
    }
    await this.fsyncDir(path.dirname(to));
  },
  async copyAtomicVerified(from, to, mode, sha256) {
    const tmp = tempPathFor(to);
    try {
      const hash = createHash('sha256');
      const out = await fsp.open(tmp, 'w', mode);
      try {
        for await (const chunk of createReadStream(from, { highWaterMark: 1 << 20 })) {
          hash.update(chunk as Buffer);
          await out.write(chunk as Buffer);
        }
        await out.chmod(mode);
        await out.sync();
      } finally {
        await out.close();
      }
      const got = hash.digest('hex');
      if (got !== sha256) throw new KipError('COPY_CHECKSUM_MISMATCH', `copy of ${from} has sha256 ${got}, expected ${sha256}`, { from, to });
      await fsp.rename(tmp, to);
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw err;
    }
    await this.fsyncDir(path.dirname(to));
  },
  async sha256(file) {
    const hash = createHash('sha256');
    try {
      for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    return hash.digest('hex');
  },
  async contains(file, needle) {
    const n = Buffer.from(needle);
    let tail = Buffer.alloc(0);
    for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
      const buf = Buffer.concat([tail, chunk as Buffer]);
      if (buf.includes(n)) return true;
      tail = buf.subarray(Math.max(0, buf.length - n.length + 1));
    }
    return false;
  },
  async remove(file) {
    await fsp.rm(file, { force: true });
  },
  async removeTree(dir) {
    await fsp.rm(dir, { force: true, recursive: true });
  },
  async mkdirp(dir) {
    // Each new directory's entry lives in its parent: fsync every parent that gained one, or a
    // power cut can lose a journal or backup file together with the directory it was written to.
    const first = await fsp.mkdir(dir, { recursive: true });
    if (first === undefined) return;
    const created: string[] = [];
    for (let d = path.resolve(dir); ; d = path.dirname(d)) {
      created.push(d);
      if (d === path.resolve(first) || d === path.dirname(d)) break;
    }
    for (const d of created.reverse()) await this.fsyncDir(path.dirname(d));
  },
  async list(dir) {
    try {
      return (await fsp.readdir(dir)).sort();
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
  },
  async rename(from, to) {
    await fsp.rename(from, to);
  },
  async fsyncDir(dir) {
    const fh = await fsp.open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
  async statfs(dir) {
    try {
      const s = await fsp.statfs(dir);
      return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  },
};
