import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { NspawnError } from './errors.ts';
import { errMessage, isErrno, isProcessAlive } from './cgroup.ts';

export interface LockOptions {
  readonly timeoutMs: number;
  readonly pollMs?: number;
  /** A lock directory without an owner file older than this is considered abandoned. */
  readonly ownerlessStaleMs?: number;
}

/**
 * A cross-process lock (several vitest workers may build the base image at once): an atomic
 * mkdir of `path`, with an `owner` file naming host and pid. A lock whose owner process on this
 * host is gone is taken over (renamed away atomically, so only one waiter can take it).
 */
export async function withLock<T>(path: string, options: LockOptions, body: () => Promise<T>): Promise<T> {
  const release = await acquire(path, options);
  try {
    return await body();
  } finally {
    await release();
  }
}

async function acquire(path: string, options: LockOptions): Promise<() => Promise<void>> {
  const deadline = Date.now() + options.timeoutMs;
  const pollMs = options.pollMs ?? 250;
  const ownerContent = `${hostname()} ${process.pid} ${randomBytes(6).toString('hex')}\n`;
  for (;;) {
    try {
      await mkdir(path);
      await writeFile(join(path, 'owner'), ownerContent);
      return async () => {
        const current = await readOwner(path);
        if (current === ownerContent) await rm(path, { recursive: true, force: true });
      };
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) {
        throw new NspawnError('NSPAWN_LOCK_FAILED', `could not take lock ${path}: ${errMessage(err)}`, { path }, { cause: err });
      }
    }
    await breakIfAbandoned(path, options.ownerlessStaleMs ?? 30_000);
    if (Date.now() > deadline) {
      throw new NspawnError('NSPAWN_LOCK_TIMEOUT', `timed out waiting for lock ${path} (held by ${(await readOwner(path))?.trim() ?? 'unknown'})`, { path });
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

async function readOwner(path: string): Promise<string | undefined> {
  try {
    return await readFile(join(path, 'owner'), 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

async function breakIfAbandoned(path: string, ownerlessStaleMs: number): Promise<void> {
  const owner = await readOwner(path);
  let abandoned = false;
  if (owner === undefined) {
    try {
      const st = await stat(path);
      abandoned = Date.now() - st.mtimeMs > ownerlessStaleMs;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return;
      throw err;
    }
  } else {
    const [host, pidText] = owner.trim().split(' ');
    const pid = Number(pidText);
    abandoned = host === hostname() && Number.isInteger(pid) && pid > 0 && !isProcessAlive(pid);
  }
  if (!abandoned) return;
  // Re-check right before the atomic rename, so a lock retaken meanwhile is left alone.
  if ((await readOwner(path)) !== owner) return;
  const grave = `${path}.abandoned-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await rename(path, grave);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return;
    throw err;
  }
  await rm(grave, { recursive: true, force: true });
}
