/**
 * A private dockerd 20.10 for tests: its own --data-root, --exec-root, --pidfile, socket and config
 * file under `dir`, and `--bridge=none --iptables=false --ip-forward=false --ip-masq=false` so it
 * leaves the host's network alone. dockerd 20.10 always writes its trust key to
 * /etc/docker/key.json (no flag moves it), so it runs in a private mount namespace where
 * /etc/docker is a directory under `dir`; its overlay mounts stay in that namespace too.
 * The busybox image is loaded with `docker load` from the same tarball containerd imports.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { KipError } from '../../lib/errors.ts';
import { execaExec, type Exec } from '../../lib/exec.ts';
import { createDockerClient } from '../../agent/runtime/docker.ts';
import { spawnDaemon } from './daemon.ts';
import { BUSYBOX_IMAGE, PAUSE_IMAGE, buildBusyboxImage } from './oci-image.ts';
import { waitFor } from '../../lib/poll.ts';
import { alive, killShims, removeCgroupDirs } from './procs.ts';

export interface StartDockerdOptions {
  readonly dir: string;
  readonly exec?: Exec;
  readonly keepDir?: boolean;
  readonly startTimeoutMs?: number;
  /** The cgroup its containers go under (default kip-docker-<hash of dir>, so two instances whose dirs share a basename never share one). */
  readonly cgroupParent?: string;
}

export interface DockerdHandle {
  readonly socket: string;
  readonly dir: string;
  readonly pid: number;
  readonly images: { readonly busybox: string; readonly pause: string };
  readonly logFile: string;
  /** The cgroup (relative to the cgroup root) its containers run under. */
  readonly cgroupParent: string;
  /** The socket of dockerd's own containerd (its shims carry it as -address). */
  readonly innerContainerdSocket: string;
  /** Runs the docker CLI against this daemon (argument array; result as data). */
  docker(args: readonly string[], timeoutMs?: number): ReturnType<Exec>;
  /** Force-removes all containers, stops dockerd, kills leftover shims, removes dir. Idempotent. */
  stop(): Promise<void>;
}

async function logTail(file: string): Promise<string> {
  return (await readFile(file, 'utf8').catch(() => '(no log)')).split('\n').slice(-15).join('\n');
}

// $0 is the directory to bind over /etc/docker; "$@" is the dockerd command line.
const BIND_AND_EXEC = 'mount --bind "$0" /etc/docker && exec "$@"';

export async function startDockerd(options: StartDockerdOptions): Promise<DockerdHandle> {
  const exec = options.exec ?? execaExec;
  const dir = options.dir;
  if (!existsSync('/etc/docker')) {
    throw new KipError('DOCKERD_NO_ETC_DOCKER', '/etc/docker is missing (install docker.io); it is needed as a mount point for the private key directory');
  }
  for (const d of ['data', 'exec', 'etc-docker', 'images']) await mkdir(join(dir, d), { recursive: true });
  const configFile = join(dir, 'daemon.json');
  await writeFile(configFile, '{}\n');
  const socket = join(dir, 'docker.sock');
  const logFile = join(dir, 'dockerd.log');
  const execRoot = join(dir, 'exec');
  // containers get cgroups under a parent of their own, removed again by stop()
  const cgroupParent = options.cgroupParent ?? `kip-docker-${createHash('sha256').update(resolve(dir)).digest('hex').slice(0, 12)}`;
  const daemon = spawnDaemon(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      'sh',
      '-c',
      BIND_AND_EXEC,
      join(dir, 'etc-docker'),
      'dockerd',
      '--config-file',
      configFile,
      '--data-root',
      join(dir, 'data'),
      '--exec-root',
      execRoot,
      '--pidfile',
      join(dir, 'docker.pid'),
      '-H',
      `unix://${socket}`,
      '--bridge=none',
      '--iptables=false',
      '--ip6tables=false',
      '--ip-forward=false',
      '--ip-masq=false',
      '--userland-proxy=false',
      '--shutdown-timeout=2',
      `--cgroup-parent=/${cgroupParent}`,
    ],
    logFile,
  );
  const client = createDockerClient({ socketPath: socket, timeoutMs: 5_000 });
  const docker = (args: readonly string[], timeoutMs = 60_000) => exec('docker', ['-H', `unix://${socket}`, ...args], { timeoutMs });
  // dockerd's own containerd: its shims carry this address
  const innerContainerd = join(execRoot, 'containerd', 'containerd.sock');

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    const problems: string[] = [];
    if (daemon.isRunning()) {
      const ids = await docker(['ps', '-aq'], 30_000);
      const list = ids.stdout.split('\n').filter((s) => s.trim() !== '');
      if (ids.exitCode !== 0) problems.push(`docker ps: ${ids.stderr.trim()}`);
      else if (list.length > 0) {
        const rm_ = await docker(['rm', '-f', ...list], 60_000);
        if (rm_.exitCode !== 0) problems.push(`docker rm -f: ${rm_.stderr.trim()}`);
      }
    }
    await daemon.stop(20_000);
    const shims = await killShims(innerContainerd);
    if (shims.length > 0) {
      problems.push(`killed ${shims.length} leftover shim(s)`);
      await waitFor('leftover shims to exit', async () => (shims.some(alive) ? undefined : true), { timeoutMs: 10_000 }).catch((err: unknown) => {
        problems.push(err instanceof Error ? err.message : String(err));
      });
    }
    const busy = await removeCgroupDirs(cgroupParent);
    if (busy.length > 0) problems.push(`cgroups still busy: ${busy.join(', ')}`);
    if (!options.keepDir && problems.length === 0) await rm(dir, { recursive: true, force: true });
    if (problems.length > 0) {
      throw new KipError('DOCKERD_STOP_UNCLEAN', `private dockerd in ${dir} did not stop cleanly: ${problems.join('; ')}`, { dir, problems });
    }
  };

  try {
    await waitFor(
      'dockerd to answer',
      async () => {
        if (!daemon.isRunning()) throw new KipError('DOCKERD_EXITED', `dockerd exited during start:\n${await logTail(logFile)}`, { logFile });
        return (await client.version()).version === '' ? undefined : true;
      },
      { timeoutMs: options.startTimeoutMs ?? 60_000, intervalMs: 200 },
    );
    if (!daemon.isRunning()) throw new KipError('DOCKERD_EXITED', `dockerd exited during start:\n${await logTail(logFile)}`, { logFile });
    for (const [name, cmd] of [
      [BUSYBOX_IMAGE, ['/bin/sh']],
      [PAUSE_IMAGE, ['/bin/sleep', '2147483647']],
    ] as const) {
      const file = join(dir, 'images', `${name.replace(/[^a-z0-9]+/gi, '_')}.tar`);
      await buildBusyboxImage({ exec, name, cmd, outFile: file });
      const r = await docker(['load', '-i', file]);
      if (r.exitCode !== 0) throw new KipError('IMAGE_IMPORT_FAILED', `docker load ${name} failed: ${r.stderr.trim()}`, { name });
    }
  } catch (err) {
    try {
      await stop();
    } catch (stopErr) {
      throw new KipError('DOCKERD_START_FAILED', `dockerd failed to start, and cleanup failed too: ${stopErr instanceof Error ? stopErr.message : String(stopErr)}`, { dir }, { cause: err });
    }
    throw err;
  }
  return { socket, dir, pid: daemon.pid, images: { busybox: BUSYBOX_IMAGE, pause: PAUSE_IMAGE }, logFile, cgroupParent, innerContainerdSocket: innerContainerd, docker, stop };
}
