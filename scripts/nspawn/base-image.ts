import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execaExec, type Exec, type ExecResult } from '../../lib/exec.ts';
import { silentLogger, type Logger } from '../../lib/logger.ts';
import { NspawnError } from './errors.ts';
import { isErrno } from './cgroup.ts';
import { withLock } from './lock.ts';

/**
 * The base root file system every node boots from (architecture.md, "Real components"):
 * `debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,...` of Debian bookworm,
 * with an empty /etc/machine-id and no /var/lib/dbus/machine-id or /etc/hostname (so each
 * node gets its own identity at first boot), kept as a `tar --numeric-owner --xattrs` + zstd
 * tarball and unpacked once into a directory that nodes only ever use as a read-only
 * overlayfs lower layer.
 */
export interface BaseImage {
  /** Hash of the recipe; changes whenever suite or package list change. */
  readonly key: string;
  readonly suite: string;
  readonly packages: readonly string[];
  /** The cached tarball (zstd). */
  readonly tarball: string;
  /** The unpacked root file system: a lowerdir only, never written to. */
  readonly rootfs: string;
}

export interface BaseImageOptions {
  /** Where tarball and unpacked root live; default `<repo>/.cache/nspawn` (gitignored). */
  readonly cacheDir?: string;
  readonly exec?: Exec;
  readonly logger?: Logger;
  readonly suite?: string;
  readonly mirror?: string;
  /** Packages on top of DEFAULT_BASE_PACKAGES. */
  readonly extraPackages?: readonly string[];
  /** debootstrap may take minutes on a slow mirror. */
  readonly buildTimeoutMs?: number;
  /** How long to wait for another process that builds the same image. */
  readonly lockTimeoutMs?: number;
}

/** systemd + dbus for a real init; python3 so Ansible can reach a node; iproute2, procps for tests. */
export const DEFAULT_BASE_PACKAGES: readonly string[] = ['systemd', 'systemd-sysv', 'dbus', 'python3', 'iproute2', 'procps'];

/** Bump when the preparation of the base changes in a way the package list does not show. */
const RECIPE_VERSION = 1;

export function defaultCacheDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '.cache', 'nspawn');
}

export function baseImageKey(suite: string, packages: readonly string[]): string {
  const recipe = JSON.stringify({ v: RECIPE_VERSION, variant: 'minbase', suite, packages: [...packages].sort() });
  return createHash('sha256').update(recipe).digest('hex').slice(0, 16);
}

interface Manifest {
  readonly key: string;
  readonly sizeBytes: number;
  readonly createdAt: string;
}

/** Returns the cached base image, building and/or unpacking it first when needed. Safe to call concurrently from several processes. */
export async function ensureBaseImage(options: BaseImageOptions = {}): Promise<BaseImage> {
  const exec = options.exec ?? execaExec;
  const logger = options.logger ?? silentLogger();
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const suite = options.suite ?? 'bookworm';
  const mirror = options.mirror ?? 'http://deb.debian.org/debian';
  const packages = [...new Set([...DEFAULT_BASE_PACKAGES, ...(options.extraPackages ?? [])])];
  for (const p of packages) {
    if (!/^[a-z0-9][a-z0-9+.-]*$/.test(p)) throw new NspawnError('NSPAWN_INVALID_OPTION', `invalid package name ${JSON.stringify(p)}`, { package: p });
  }
  if (!/^[a-z]+$/.test(suite)) throw new NspawnError('NSPAWN_INVALID_OPTION', `invalid suite ${JSON.stringify(suite)}`, { suite });
  const key = baseImageKey(suite, packages);
  const image: BaseImage = {
    key,
    suite,
    packages,
    tarball: join(cacheDir, `${suite}-${key}.tar.zst`),
    rootfs: join(cacheDir, `rootfs-${key}`),
  };
  await mkdir(cacheDir, { recursive: true });

  // Fast path without the lock: both steps are published atomically (rename / marker file).
  if ((await tarballValid(image)) && (await unpacked(image))) return image;

  return withLock(join(cacheDir, `lock-${key}`), { timeoutMs: options.lockTimeoutMs ?? 30 * 60_000 }, async () => {
    if (!(await tarballValid(image))) {
      await buildTarball(image, { exec, logger, mirror, timeoutMs: options.buildTimeoutMs ?? 20 * 60_000 });
    }
    if (!(await unpacked(image))) await unpack(image, exec, logger);
    return image;
  });
}

async function tarballValid(image: BaseImage): Promise<boolean> {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await readFile(`${image.tarball}.json`, 'utf8')) as Manifest;
  } catch (err) {
    if (isErrno(err, 'ENOENT') || err instanceof SyntaxError) return false;
    throw err;
  }
  try {
    const st = await stat(image.tarball);
    return manifest.key === image.key && st.size === manifest.sizeBytes && st.size > 0;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
}

/** Beside the root, not in it, so nodes do not see it. */
function unpackedMarker(image: BaseImage): string {
  return `${image.rootfs}.unpacked`;
}

async function unpacked(image: BaseImage): Promise<boolean> {
  try {
    return (await readFile(unpackedMarker(image), 'utf8')).trim() === image.key;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
}

async function run(exec: Exec, command: string, args: readonly string[], timeoutMs: number, what: string): Promise<ExecResult> {
  const r = await exec(command, args, { timeoutMs, killGraceMs: 5_000 });
  if (r.exitCode !== 0 || r.timedOut) {
    throw new NspawnError('NSPAWN_BASE_BUILD_FAILED', `${what} failed (exit ${String(r.exitCode)}${r.timedOut ? ', timed out' : ''}): ${tail(r.stderr || r.stdout)}`, {
      command,
      args,
      exitCode: r.exitCode,
      timedOut: r.timedOut,
    });
  }
  return r;
}

function tail(text: string, max = 2_000): string {
  return text.length > max ? text.slice(-max) : text;
}

async function buildTarball(
  image: BaseImage,
  ctx: { exec: Exec; logger: Logger; mirror: string; timeoutMs: number },
): Promise<void> {
  const buildDir = `${image.rootfs}.build-${process.pid}`;
  const tmpTar = `${image.tarball}.tmp-${process.pid}`;
  const started = Date.now();
  ctx.logger.info({ suite: image.suite, packages: image.packages, buildDir }, 'building nspawn base image with debootstrap');
  await rm(buildDir, { recursive: true, force: true });
  try {
    await run(
      ctx.exec,
      'debootstrap',
      ['--variant=minbase', `--include=${image.packages.join(',')}`, image.suite, buildDir, ctx.mirror],
      ctx.timeoutMs,
      'debootstrap',
    );
    // Identity files: each node must generate its own machine id and take its hostname from -M.
    await writeFile(join(buildDir, 'etc/machine-id'), '');
    await rm(join(buildDir, 'var/lib/dbus/machine-id'), { force: true });
    await rm(join(buildDir, 'etc/hostname'), { force: true });
    // The downloaded .debs are not needed in a node (apt-get clean).
    await run(ctx.exec, 'find', [join(buildDir, 'var/cache/apt'), '-type', 'f', '(', '-name', '*.deb', '-o', '-name', '*.bin', ')', '-delete'], 60_000, 'cleaning apt cache');
    await run(ctx.exec, 'tar', ['--numeric-owner', '--xattrs', '--zstd', '-cf', tmpTar, '-C', buildDir, '.'], 10 * 60_000, 'tar of base image');
    const { size } = await stat(tmpTar);
    await rename(tmpTar, image.tarball);
    const manifest: Manifest = { key: image.key, sizeBytes: size, createdAt: new Date().toISOString() };
    await writeFile(`${image.tarball}.json.tmp-${process.pid}`, JSON.stringify(manifest));
    await rename(`${image.tarball}.json.tmp-${process.pid}`, `${image.tarball}.json`);
    ctx.logger.info({ tarball: image.tarball, sizeBytes: size, ms: Date.now() - started }, 'nspawn base image cached');
  } finally {
    await rm(buildDir, { recursive: true, force: true });
    await rm(tmpTar, { force: true });
  }
}

async function unpack(image: BaseImage, exec: Exec, logger: Logger): Promise<void> {
  const started = Date.now();
  await rm(unpackedMarker(image), { force: true });
  await rm(image.rootfs, { recursive: true, force: true });
  await mkdir(image.rootfs, { recursive: true });
  await run(exec, 'tar', ['--numeric-owner', '--xattrs', '--xattrs-include=*', '--zstd', '-xpf', image.tarball, '-C', image.rootfs], 10 * 60_000, 'unpacking base image');
  await writeFile(unpackedMarker(image), `${image.key}\n`);
  logger.info({ rootfs: image.rootfs, ms: Date.now() - started }, 'nspawn base image unpacked');
}
