import { mkdir, readFile, readlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { execa } from 'execa';
import { execaExec, type Exec, type ExecResult } from '../../lib/exec.ts';
import { silentLogger, type Logger } from '../../lib/logger.ts';
import type { BaseImage } from './base-image.ts';
import { discoverCgroupHierarchies, isErrno, NodeCgroup } from './cgroup.ts';
import { NspawnError } from './errors.ts';
import { streamParts, type StreamExit, type StreamProcess, type StreamSpawnOptions } from '../../agent/systemd/stream.ts';

/** PATH inside a node (Debian). */
export const NODE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface BindMount {
  /** Host path. */
  readonly host: string;
  /** Path inside the node; default: the same as `host`. */
  readonly inside?: string;
}

export interface BootNodeOptions {
  /** Machine name and hostname inside: letters, digits, dashes. */
  readonly name: string;
  readonly base: BaseImage;
  /** The node's private directory: overlay upper/work layers, merged root, nspawn log. */
  readonly workDir: string;
  readonly bindRo?: readonly BindMount[];
  readonly bind?: readonly BindMount[];
  /** Bind the host's node binary (process.execPath) read-only at the same path; default true. */
  readonly bindNodeBinary?: boolean;
  /** More systemd-nspawn arguments (e.g. `--network-veth` later). */
  readonly extraNspawnArgs?: readonly string[];
  /** Host Exec for mount/umount and nsenter; default execaExec. */
  readonly exec?: Exec;
  readonly logger?: Logger;
  /** How long to wait for nspawn to start the container's init; default 60 s. */
  readonly startTimeoutMs?: number;
}

export interface NspawnNode {
  readonly name: string;
  /** Host path of the merged (overlayfs) root: write files here to put them in the node. */
  readonly root: string;
  readonly workDir: string;
  /** nspawn's console output. */
  readonly logFile: string;
  /** The systemd-nspawn process on the host. */
  readonly nspawnPid: number;
  /** The node's init (pid 1 inside), as a host pid: the target for nsenter. */
  readonly leaderPid: number;
  /** Runs a command inside the node (all namespaces, clean env with PATH). Same contract as lib/exec.ts. */
  readonly exec: Exec;
  /** Starts a long-running command inside the node and streams its stdout (see StreamProcess). */
  spawn(command: string, args: readonly string[], options?: StreamSpawnOptions): StreamProcess;
  /** Polls `systemctl is-system-running` until running or degraded; returns that state. */
  waitForSystemd(timeoutMs: number): Promise<string>;
  /** Every host pid of the node: nspawn, its supervisor, and everything inside. */
  pids(): Promise<number[]>;
  /** Sum of the resident set sizes of pids(), in bytes. */
  rssBytes(): Promise<number>;
  /** Ends the node: SIGTERM to nspawn and wait, then kill leftovers, remove cgroup, unmount. Idempotent. */
  stop(options?: { timeoutMs?: number }): Promise<void>;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/;

/**
 * Names that record the creating process, so reapOrphanedNodes can find the leftovers of a
 * process that died without stopping its nodes: cgroup `kip-nspawn/<pid>-<name>-<rand>` and
 * overlay mount source `kipnode-<pid>-<name>`.
 */
export const CGROUP_PARENT = 'kip-nspawn';
export function cgroupLeafName(pid: number, name: string, rand: string): string {
  return `${pid}-${name}-${rand}`;
}
export function mountSource(pid: number, name: string): string {
  return `kipnode-${pid}-${name}`;
}

/** Boots a node with a real systemd from the shared base image (architecture.md recipe). */
export async function bootNode(options: BootNodeOptions): Promise<NspawnNode> {
  const exec = options.exec ?? execaExec;
  const logger = (options.logger ?? silentLogger()).child({ node: options.name });
  if (!NAME_RE.test(options.name)) {
    throw new NspawnError('NSPAWN_INVALID_OPTION', `invalid node name ${JSON.stringify(options.name)}`, { name: options.name });
  }
  for (const p of [options.workDir, options.base.rootfs]) {
    if (/[,:\s\\]/.test(p)) throw new NspawnError('NSPAWN_INVALID_OPTION', `path unusable in overlayfs options: ${p}`, { path: p });
  }
  const binds: string[] = [];
  const addBind = (flag: string, b: BindMount): void => {
    const inside = b.inside ?? b.host;
    if (/[:\s]/.test(b.host) || /[:\s]/.test(inside) || !b.host.startsWith('/') || !inside.startsWith('/')) {
      throw new NspawnError('NSPAWN_INVALID_OPTION', `unusable bind mount ${b.host} -> ${inside}`, { host: b.host, inside });
    }
    binds.push(`${flag}=${b.host}:${inside}`);
  };
  if (options.bindNodeBinary ?? true) addBind('--bind-ro', { host: process.execPath });
  for (const b of options.bindRo ?? []) addBind('--bind-ro', b);
  for (const b of options.bind ?? []) addBind('--bind', b);

  const upper = join(options.workDir, 'upper');
  const work = join(options.workDir, 'work');
  const root = join(options.workDir, 'root');
  const logFile = join(options.workDir, 'nspawn.log');
  for (const d of [upper, work, root]) await mkdir(d, { recursive: true });

  const mount = await exec('mount', ['-t', 'overlay', mountSource(process.pid, options.name), '-o', `lowerdir=${options.base.rootfs},upperdir=${upper},workdir=${work}`, root], {
    timeoutMs: 30_000,
  });
  if (mount.exitCode !== 0) {
    throw new NspawnError('NSPAWN_MOUNT_FAILED', `overlay mount for ${options.name} failed: ${mount.stderr.trim()}`, { root, exitCode: mount.exitCode });
  }

  const cgroup = new NodeCgroup(await discoverCgroupHierarchies(), join(CGROUP_PARENT, cgroupLeafName(process.pid, options.name, randomBytes(3).toString('hex'))));
  let launched: Launched | undefined;
  const cleanupPartial = async (): Promise<void> => {
    await teardown({ name: options.name, root, cgroup, exec, logger, launched, timeoutMs: 30_000 });
  };
  try {
    await cgroup.create();
    const args = [
      '-D', root,
      '-b',
      '--register=no',
      '--keep-unit',
      '--link-journal=no',
      '-M', options.name,
      ...binds,
      ...(options.extraNspawnArgs ?? []),
    ];
    launched = launch(cgroup, args, logFile);
    const leaderPid = await findLeader(launched, options.startTimeoutMs ?? 60_000, logFile);
    logger.debug({ nspawnPid: launched.pid, leaderPid, cgroup: cgroup.unifiedDir }, 'node started');
    return makeNode({ name: options.name, root, workDir: options.workDir, logFile, leaderPid, launched, cgroup, exec, logger });
  } catch (err) {
    await cleanupPartial().catch((cleanupErr: unknown) => logger.error({ err: cleanupErr }, 'cleanup after failed boot failed'));
    throw err;
  }
}

interface Launched {
  readonly pid: number;
  readonly done: Promise<{ exitCode: number | undefined; signal: string | undefined }>;
  exited: boolean;
}

/**
 * Starts nspawn from the node's own cgroup: a tiny sh writes its pid into every hierarchy's
 * cgroup.procs, then execs `setsid systemd-nspawn ...` (the same pid all the way, because this sh is
 * not a process group leader, setsid does not fork). stdin is /dev/null, output goes to the log.
 */
function launch(cgroup: NodeCgroup, nspawnArgs: readonly string[], logFile: string): Launched {
  const script = 'for f in "$@"; do [ "$f" = -- ] && break; echo $$ > "$f" || exit 97; shift; done; shift; exec setsid "$@"';
  const child = execa('sh', ['-c', script, 'kip-nspawn-launch', ...cgroup.procsFiles, '--', 'systemd-nspawn', ...nspawnArgs], {
    stdin: 'ignore',
    stdout: { file: logFile, append: true },
    stderr: { file: logFile, append: true },
    reject: false,
    buffer: false,
    env: { SYSTEMD_NSPAWN_UNIFIED_HIERARCHY: '1' },
  });
  const pid = child.pid;
  if (pid === undefined) throw new NspawnError('NSPAWN_BOOT_FAILED', 'could not start systemd-nspawn', {});
  const launched: Launched = {
    pid,
    exited: false,
    done: child.then((r) => {
      launched.exited = true;
      return { exitCode: r.exitCode, signal: r.signal };
    }),
  };
  return launched;
}

async function findLeader(launched: Launched, timeoutMs: number, logFile: string): Promise<number> {
  const ownPidNs = await readlink('/proc/self/ns/pid');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (launched.exited) {
      const r = await launched.done;
      throw new NspawnError('NSPAWN_BOOT_FAILED', `systemd-nspawn exited (code ${String(r.exitCode)}, signal ${String(r.signal)}): ${await logTail(logFile)}`, {
        exitCode: r.exitCode,
        logFile,
      });
    }
    for (const child of await childrenOf(launched.pid)) {
      try {
        if ((await readlink(`/proc/${child}/ns/pid`)) !== ownPidNs) return child;
      } catch (err) {
        if (!isErrno(err, 'ENOENT') && !isErrno(err, 'ESRCH')) throw err;
      }
    }
    await sleep(50);
  }
  throw new NspawnError('NSPAWN_BOOT_TIMEOUT', `systemd-nspawn did not start the node's init within ${timeoutMs} ms: ${await logTail(logFile)}`, { logFile });
}

async function childrenOf(pid: number): Promise<number[]> {
  try {
    const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8');
    return text.split(' ').filter((s) => s.trim() !== '').map(Number);
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ESRCH')) return [];
    throw err;
  }
}

async function logTail(logFile: string): Promise<string> {
  try {
    return (await readFile(logFile, 'utf8')).slice(-1_500);
  } catch {
    return '(no log)';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function makeNode(ctx: {
  name: string;
  root: string;
  workDir: string;
  logFile: string;
  leaderPid: number;
  launched: Launched;
  cgroup: NodeCgroup;
  exec: Exec;
  logger: Logger;
}): NspawnNode {
  const { leaderPid, launched, cgroup } = ctx;
  const envArgs = (env: Readonly<Record<string, string>> | undefined): string[] => {
    const merged: Record<string, string> = { PATH: NODE_PATH, ...env };
    return Object.entries(merged).map(([k, v]) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new NspawnError('NSPAWN_INVALID_OPTION', `invalid environment variable name ${JSON.stringify(k)}`, { name: k });
      return `${k}=${v}`;
    });
  };

  /**
   * Runs the command under coreutils `timeout` INSIDE the node, so a timeout ends the command
   * itself; killing only the host-side nsenter would orphan it inside the node (architecture.md).
   */
  const exec: Exec = async (command, args, options) => {
    const graceMs = options.killGraceMs ?? 2_000;
    const nsArgs = [
      '-t', String(leaderPid), '-a',
      // env -C rather than nsenter --wd: with -a, nsenter moves to the init's directory.
      'env', '-i', ...(options.cwd !== undefined ? [`--chdir=${options.cwd}`] : []), ...envArgs(options.env),
      'timeout', `--kill-after=${(graceMs / 1000).toFixed(3)}s`, `${(options.timeoutMs / 1000).toFixed(3)}s`,
      command, ...args,
    ];
    const r: ExecResult = await ctx.exec('nsenter', nsArgs, {
      timeoutMs: options.timeoutMs + graceMs + 15_000,
      killGraceMs: 2_000,
      ...(options.input !== undefined ? { input: options.input } : {}),
    });
    // timeout(1) exits 124 when it had to stop the command, 137 when it had to SIGKILL it.
    const innerTimedOut = (r.exitCode === 124 || r.exitCode === 137) && r.durationMs >= options.timeoutMs * 0.9;
    return {
      ...r,
      command,
      args,
      exitCode: innerTimedOut ? undefined : r.exitCode,
      signal: innerTimedOut ? (r.exitCode === 137 ? 'SIGKILL' : 'SIGTERM') : r.signal,
      timedOut: r.timedOut || innerTimedOut,
    };
  };

  const streams = new Set<StreamProcess>();
  const spawn = (command: string, args: readonly string[], options: StreamSpawnOptions = {}): StreamProcess => {
    const child = execa('nsenter', ['-t', String(leaderPid), '-a', 'env', '-i', ...envArgs(options.env), command, ...args], {
      stdin: 'ignore',
      reject: false,
      buffer: false,
    });
    const { lines, stderrText } = streamParts(child.stdout, child.stderr);
    let finished = false;
    const done: Promise<StreamExit> = child.then((r) => {
      finished = true;
      return { exitCode: r.exitCode, signal: r.signal, stderr: stderrText() };
    });
    let stopping: Promise<StreamExit> | undefined;
    const stop = (): Promise<StreamExit> => {
      stopping ??= (async () => {
        const pid = child.pid;
        if (pid !== undefined && !finished) {
          // End the command inside the node first (nsenter's child), then nsenter exits by itself.
          for (const inner of await childrenOf(pid)) signal(inner, 'SIGTERM');
          if (!(await settlesWithin(done, 5_000))) {
            for (const inner of await childrenOf(pid)) signal(inner, 'SIGKILL');
            signal(pid, 'SIGKILL');
          }
        }
        return done;
      })();
      return stopping;
    };
    const proc: StreamProcess = { pid: child.pid, lines, done, stop };
    streams.add(proc);
    void done.then(() => streams.delete(proc));
    return proc;
  };

  const waitForSystemd = async (timeoutMs: number): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (launched.exited) throw new NspawnError('NSPAWN_BOOT_FAILED', `node ${ctx.name} stopped while booting: ${await logTail(ctx.logFile)}`, { node: ctx.name });
      const r = await exec('systemctl', ['is-system-running'], { timeoutMs: Math.max(1_000, Math.min(10_000, deadline - Date.now())) });
      last = r.stdout.trim() || r.stderr.trim();
      if (last === 'running' || last === 'degraded') return last;
      await sleep(200);
    }
    throw new NspawnError('NSPAWN_BOOT_TIMEOUT', `systemd in node ${ctx.name} not running after ${timeoutMs} ms (last state: ${last})`, { node: ctx.name, state: last });
  };

  const pids = (): Promise<number[]> => cgroup.pids();

  const rssBytes = async (): Promise<number> => {
    let kb = 0;
    for (const pid of await pids()) {
      try {
        const m = /^VmRSS:\s+(\d+) kB$/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
        if (m?.[1] !== undefined) kb += Number(m[1]);
      } catch (err) {
        if (!isErrno(err, 'ENOENT') && !isErrno(err, 'ESRCH')) throw err;
      }
    }
    return kb * 1024;
  };

  let stopping: Promise<void> | undefined;
  const stop = (options: { timeoutMs?: number } = {}): Promise<void> => {
    stopping ??= (async () => {
      // Streams first: a command left running inside would delay the node's shutdown (architecture.md).
      await Promise.all([...streams].map((p) => p.stop()));
      await teardown({ name: ctx.name, root: ctx.root, cgroup, exec: ctx.exec, logger: ctx.logger, launched, timeoutMs: options.timeoutMs ?? 60_000 });
    })();
    return stopping;
  };

  return { name: ctx.name, root: ctx.root, workDir: ctx.workDir, logFile: ctx.logFile, nspawnPid: launched.pid, leaderPid, exec, spawn, waitForSystemd, pids, rssBytes, stop };
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if (!isErrno(err, 'ESRCH')) throw err;
  }
}

async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((r) => {
    timer = setTimeout(() => r(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Stops nspawn (SIGTERM, then SIGKILL of the whole cgroup), removes the cgroup, unmounts the overlay. */
async function teardown(ctx: {
  name: string;
  root: string;
  cgroup: NodeCgroup;
  exec: Exec;
  logger: Logger;
  launched: Launched | undefined;
  timeoutMs: number;
}): Promise<void> {
  const { launched, cgroup } = ctx;
  const started = Date.now();
  if (launched !== undefined && !launched.exited) {
    signal(launched.pid, 'SIGTERM');
    if (!(await settlesWithin(launched.done, ctx.timeoutMs))) {
      ctx.logger.warn({ timeoutMs: ctx.timeoutMs }, 'nspawn did not stop on SIGTERM; killing the node cgroup');
      await cgroup.killAll();
      if (!(await settlesWithin(launched.done, 15_000))) {
        throw new NspawnError('NSPAWN_STOP_FAILED', `systemd-nspawn of ${ctx.name} (pid ${launched.pid}) survived SIGKILL`, { pid: launched.pid });
      }
    }
  }
  // Anything left in the cgroup (a process that escaped the shutdown) is killed.
  const deadline = Date.now() + 15_000;
  for (;;) {
    const left = await cgroup.pids();
    if (left.length === 0) break;
    if (Date.now() > deadline) {
      throw new NspawnError('NSPAWN_STOP_FAILED', `processes of node ${ctx.name} survive: ${left.join(' ')}`, { pids: left });
    }
    await cgroup.killAll();
    await sleep(100);
  }
  await cgroup.remove();
  await unmount(ctx.root, ctx.exec);
  ctx.logger.debug({ ms: Date.now() - started }, 'node stopped');
}

export interface MountEntry {
  readonly mountPoint: string;
  readonly fsType: string;
  readonly source: string;
}

const unescapeMount = (p: string): string => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** Parses /proc/self/mountinfo text (pure): mount point is field 5, fs type and source follow ' - '. */
export function parseMountInfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const sep = fields.indexOf('-', 6);
    const mountPoint = fields[4];
    const fsType = fields[sep + 1];
    const source = fields[sep + 2];
    if (sep < 0 || mountPoint === undefined || fsType === undefined || source === undefined) continue;
    out.push({ mountPoint: unescapeMount(mountPoint), fsType, source: unescapeMount(source) });
  }
  return out;
}

export async function mountEntries(): Promise<MountEntry[]> {
  return parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
}

/** Mount points of this process's mount namespace. */
export async function mountPoints(): Promise<string[]> {
  return (await mountEntries()).map((m) => m.mountPoint);
}

export async function unmount(root: string, exec: Exec): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (!(await mountPoints()).includes(root)) return;
    const r = await exec('umount', [root], { timeoutMs: 30_000 });
    // Stacked mounts take one umount each; a umount that "succeeds" but leaves the mount (a fake
    // exec, a racing remount) must still end at the deadline.
    if (Date.now() > deadline) {
      throw new NspawnError('NSPAWN_STOP_FAILED', `could not unmount ${root}: ${r.exitCode === 0 ? 'still mounted after umount' : r.stderr.trim()}`, { root });
    }
    if (r.exitCode !== 0) await sleep(200);
  }
}

