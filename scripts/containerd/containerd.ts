/**
 * A private containerd 1.6 for tests and the lab: its own root, state, socket and config under
 * `dir`, the CRI plugin with `restrict_oom_score_adj = true` (no CAP_SYS_RESOURCE here), overlayfs
 * when it mounts here and native otherwise, no CNI (pods use the node's network namespace), and
 * local busybox/pause images imported with `ctr` (no registry).
 *
 * Note: containerd-shim-runc-v2 places its sockets under /run/containerd/s/<hash of our address>;
 * that path is compiled into containerd 1.6, but the names are unique to this instance.
 */
import { readFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KipError } from '../../lib/errors.ts';
import { execaExec, type Exec } from '../../lib/exec.ts';
import type { Logger } from '../../lib/logger.ts';
import { createCriClient, type CriClient } from '../../agent/runtime/cri.ts';
import { spawnDaemon, type Daemon } from './daemon.ts';
import { unmountAllUnder } from './mounts.ts';
import { alive, killShims } from './procs.ts';
import { BUSYBOX_IMAGE, PAUSE_IMAGE, buildBusyboxImage, buildBusyboxImages, type ImageSpecOfMany } from './oci-image.ts';
import { waitFor } from '../../lib/poll.ts';

export type Snapshotter = 'overlayfs' | 'native';

export interface StartContainerdOptions {
  /** An empty (or absent) directory this instance owns; removed by stop() unless keepDir. */
  readonly dir: string;
  readonly exec?: Exec;
  readonly logger?: Logger;
  /** Force a snapshotter; by default overlayfs if an overlay mount works in dir, else native. */
  readonly snapshotter?: Snapshotter;
  /** Import the busybox and pause images (default true). */
  readonly importImages?: boolean;
  readonly keepDir?: boolean;
  readonly startTimeoutMs?: number;
}

export interface ContainerdHandle {
  /** Absolute path of the gRPC socket (CRI and containerd API). */
  readonly socket: string;
  /** unix:///... form for CRI clients. */
  readonly address: string;
  readonly dir: string;
  readonly pid: number;
  readonly snapshotter: Snapshotter;
  readonly images: { readonly busybox: string; readonly pause: string };
  readonly logFile: string;
  /** Removes every pod, stops containerd, kills leftover shims, unmounts, removes dir. Idempotent. */
  stop(): Promise<void>;
}

export const CONTAINERD_NAMESPACE = 'k8s.io';

/**
 * Builds busybox images under the given names (one tarball, one shared layer, a config each) and
 * imports them into this containerd's CRI namespace, so CreateContainer can name them and CRI
 * reports them as the container's image (as a pulled image would be).
 */
export async function importBusyboxImages(cd: Pick<ContainerdHandle, 'socket' | 'dir' | 'snapshotter'>, images: readonly ImageSpecOfMany[], exec: Exec = execaExec): Promise<void> {
  if (images.length === 0) return;
  await mkdir(join(cd.dir, 'images'), { recursive: true });
  const file = join(cd.dir, 'images', `many-${process.pid}-${images.length}.tar`);
  try {
    await buildBusyboxImages({ exec, images, outFile: file });
    const r = await exec('ctr', ['-a', cd.socket, '-n', CONTAINERD_NAMESPACE, 'images', 'import', '--snapshotter', cd.snapshotter, file], { timeoutMs: 120_000 });
    if (r.exitCode !== 0) throw new KipError('IMAGE_IMPORT_FAILED', `ctr images import of ${images.length} images failed: ${r.stderr.trim()}`, { names: images.map((i) => i.name), exitCode: r.exitCode });
  } finally {
    await rm(file, { force: true });
  }
}

async function overlayWorks(exec: Exec, dir: string): Promise<boolean> {
  const p = join(dir, 'overlay-probe');
  for (const d of ['lower', 'upper', 'work', 'merged']) await mkdir(join(p, d), { recursive: true });
  const r = await exec('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${p}/lower,upperdir=${p}/upper,workdir=${p}/work`, `${p}/merged`], { timeoutMs: 10_000 });
  if (r.exitCode === 0) {
    const u = await exec('umount', [`${p}/merged`], { timeoutMs: 10_000 });
    if (u.exitCode !== 0) throw new KipError('UNMOUNT_FAILED', `could not unmount overlay probe: ${u.stderr.trim()}`, { path: `${p}/merged` });
  }
  await rm(p, { recursive: true, force: true });
  return r.exitCode === 0;
}

export function containerdConfig(dir: string, snapshotter: Snapshotter): string {
  const q = (s: string) => JSON.stringify(s);
  return `version = 2
root = ${q(join(dir, 'root'))}
state = ${q(join(dir, 'state'))}
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = ${q(join(dir, 'containerd.sock'))}

[ttrpc]
  address = ${q(join(dir, 'containerd.sock.ttrpc'))}

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = ${q(join(dir, 'opt'))}
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = ${q(PAUSE_IMAGE)}
    restrict_oom_score_adj = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    enable_selinux = false
    disable_apparmor = true
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = ${q(snapshotter)}
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = ${q(join(dir, 'cni', 'bin'))}
      conf_dir = ${q(join(dir, 'cni', 'net.d'))}
`;
}

async function logTail(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}

async function removeAllPods(cri: CriClient): Promise<void> {
  for (const pod of await cri.listPodSandboxes()) {
    await cri.stopPodSandbox(pod.id);
    await cri.removePodSandbox(pod.id);
  }
}

export async function startContainerd(options: StartContainerdOptions): Promise<ContainerdHandle> {
  const exec = options.exec ?? execaExec;
  const dir = options.dir;
  const log = options.logger?.child({ component: 'test-containerd', dir });
  await mkdir(dir, { recursive: true });
  for (const d of ['root', 'state', 'opt', 'cni/bin', 'cni/net.d', 'images']) await mkdir(join(dir, d), { recursive: true });
  const snapshotter = options.snapshotter ?? ((await overlayWorks(exec, dir)) ? 'overlayfs' : 'native');
  const configFile = join(dir, 'config.toml');
  await writeFile(configFile, containerdConfig(dir, snapshotter));
  const socket = join(dir, 'containerd.sock');
  const address = `unix://${socket}`;
  const logFile = join(dir, 'containerd.log');
  const daemon: Daemon = spawnDaemon('containerd', ['--config', configFile], logFile);
  const cri = createCriClient({ address, timeoutMs: 5_000, apiVersion: 'v1' });

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    const problems: string[] = [];
    if (daemon.isRunning()) {
      try {
        await removeAllPods(cri);
      } catch (err) {
        problems.push(`removing pods: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    cri.close();
    await daemon.stop(10_000);
    // Shims outlive containerd by design; end any this instance left (their containers die with them
    // only if the shim is asked, so kill the container init processes first).
    const shims = await killShims(socket);
    if (shims.length > 0) {
      problems.push(`killed ${shims.length} leftover shim(s)`);
      await waitFor('leftover shims to exit', async () => (shims.some(alive) ? undefined : true), { timeoutMs: 10_000 }).catch((err: unknown) => {
        problems.push(err instanceof Error ? err.message : String(err));
      });
    }
    try {
      await unmountAllUnder(exec, dir);
    } catch (err) {
      problems.push(err instanceof Error ? err.message : String(err));
    }
    if (!options.keepDir && problems.length === 0) await rm(dir, { recursive: true, force: true });
    if (problems.length > 0) {
      log?.warn({ problems }, 'containerd stopped with problems');
      throw new KipError('CONTAINERD_STOP_UNCLEAN', `private containerd in ${dir} did not stop cleanly: ${problems.join('; ')}`, { dir, problems });
    }
  };

  try {
    await waitFor(
      'containerd CRI to answer',
      async () => {
        if (!daemon.isRunning()) {
          throw new KipError('CONTAINERD_EXITED', `containerd exited during start:\n${await logTail(logFile)}`, { logFile });
        }
        return (await cri.version()).runtimeName === '' ? undefined : true;
      },
      { timeoutMs: options.startTimeoutMs ?? 30_000, intervalMs: 100 },
    );
    if (!daemon.isRunning()) throw new KipError('CONTAINERD_EXITED', `containerd exited during start:\n${await logTail(logFile)}`, { logFile });
    if (options.importImages ?? true) {
      for (const [name, cmd] of [
        [BUSYBOX_IMAGE, ['/bin/sh']],
        [PAUSE_IMAGE, ['/bin/sleep', '2147483647']],
      ] as const) {
        const file = join(dir, 'images', `${name.replace(/[^a-z0-9]+/gi, '_')}.tar`);
        await buildBusyboxImage({ exec, name, cmd, outFile: file });
        const r = await exec('ctr', ['-a', socket, '-n', CONTAINERD_NAMESPACE, 'images', 'import', '--snapshotter', snapshotter, file], { timeoutMs: 60_000 });
        if (r.exitCode !== 0) throw new KipError('IMAGE_IMPORT_FAILED', `ctr images import ${name} failed: ${r.stderr.trim()}`, { name, exitCode: r.exitCode });
      }
    }
  } catch (err) {
    try {
      await stop();
    } catch (stopErr) {
      throw new KipError('CONTAINERD_START_FAILED', `containerd failed to start, and cleanup failed too: ${stopErr instanceof Error ? stopErr.message : String(stopErr)}`, { dir }, { cause: err });
    }
    throw err;
  }
  log?.info({ pid: daemon.pid, snapshotter }, 'private containerd ready');
  return { socket, address, dir, pid: daemon.pid, snapshotter, images: { busybox: BUSYBOX_IMAGE, pause: PAUSE_IMAGE }, logFile, stop };
}
