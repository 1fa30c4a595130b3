/**
 * Does the kubelet see the skip file the agent writes? The whole path (issue 8, defect 6):
 * the agent's own view of the file's directory is the host's (PID 1's), no mount-namespace
 * option of the kubelet unit covers the directory, and, once the new kubelet runs, its
 * /proc/<MainPID>/root shows the very file (device, inode, content).
 */
import path from 'node:path';
import type { ComponentSpec } from './component.ts';
import type { UpgradeAgentDeps } from './config.ts';
import { Codes, PreconditionError, StepFailedError } from './errors.ts';
import type { MountOptions } from './ports.ts';

/** True when `dir` is `cover` or below it. */
function covers(cover: string, dir: string): boolean {
  const c = path.posix.normalize(cover).replace(/\/+$/, '') || '/';
  return c === '/' || dir === c || dir.startsWith(`${c}/`);
}

const stripPrefix = (p: string): string => p.replace(/^[-+]+/, '');

/**
 * The unit option that hides `dir` from the unit's processes, or undefined. PrivateTmp is
 * checked apart (its own error code, PRIVATE_TMP). systemd.exec(5): TemporaryFileSystem= mounts
 * an empty tmpfs, RootDirectory=/RootImage= give another root, InaccessiblePaths= makes a path
 * inaccessible, BindPaths=/BindReadOnlyPaths= mount something else over the destination, and
 * ProtectHome=yes|tmpfs hides /home, /root and /run/user.
 */
export function hidingOption(m: MountOptions, dir: string): string | undefined {
  for (const e of m.temporaryFileSystem) {
    const p = stripPrefix(e).split(':')[0] ?? '';
    if (p && covers(p, dir)) return `TemporaryFileSystem=${p} mounts an empty tmpfs over ${dir}`;
  }
  if (m.rootDirectory) return `RootDirectory=${m.rootDirectory} gives the kubelet another root`;
  if (m.rootImage) return `RootImage=${m.rootImage} gives the kubelet another root`;
  for (const e of m.inaccessiblePaths) {
    const p = stripPrefix(e);
    if (p && covers(p, dir)) return `InaccessiblePaths=${p} hides ${dir}`;
  }
  for (const e of m.bindPaths) {
    const [src = '', dst] = stripPrefix(e).split(':');
    const target = dst && dst.startsWith('/') ? dst : src;
    if (target && covers(target, dir)) return `BindPaths= mounts ${src} over ${target}`;
  }
  if (m.protectHome === 'yes' || m.protectHome === 'tmpfs') {
    for (const p of ['/home', '/root', '/run/user']) if (covers(p, dir)) return `ProtectHome=${m.protectHome} hides ${p}`;
  }
  return undefined;
}

/** Before a run: the agent's view of the skip file's directory is PID 1's, and the unit hides nothing. */
export async function assertSkipFileShared(deps: UpgradeAgentDeps, c: ComponentSpec, skipFile: string, host: (p: string) => string, mountOptions: MountOptions): Promise<string> {
  const dir = path.posix.dirname(skipFile);
  const hidden = hidingOption(mountOptions, dir);
  if (hidden) {
    throw new PreconditionError(Codes.SKIP_FILE_HIDDEN, `${c.unit}: ${hidden}: the kubelet would not see ${skipFile} and every container whose hash changes would restart`, { unit: c.unit, dir });
  }
  const mine = await deps.fs.stat(host(dir));
  const hosts = await deps.proc.statAs(1, host(dir));
  if (!mine || !hosts || mine.dev !== hosts.dev || mine.ino !== hosts.ino) {
    const seen = (s: { dev: number; ino: number } | undefined): string => (s ? `${s.dev}:${s.ino}` : 'absent');
    throw new PreconditionError(
      Codes.SKIP_FILE_NOT_SHARED,
      `kip-agent's ${dir} is not the host's (device:inode ${seen(mine)} here, ${seen(hosts)} for PID 1): the agent runs with PrivateTmp or in a mount namespace of its own, so the kubelet would not see the skip file it writes; run kip-agent.service without PrivateTmp and mount namespacing`,
      { dir },
    );
  }
  return `${c.unit} and kip-agent share ${dir} with the host`;
}

/**
 * After the new kubelet started: its root shows the very file the agent wrote. A kubelet that
 * found no file writes its own version into the one it sees (PersistVersion in the patch), so a
 * file naming its own version means it did not see ours: fail at once, the run rolls back.
 * Returns undefined when the process is gone meanwhile (the next probe says so).
 */
export async function assertKubeletSeesSkipFile(deps: UpgradeAgentDeps, c: ComponentSpec, skipFile: string, host: (p: string) => string, pid: number, ownVersion: string): Promise<string | undefined> {
  const file = host(skipFile);
  const [mine, content, theirs, theirContent] = await Promise.all([deps.fs.stat(file), deps.fs.readText(file), deps.proc.statAs(pid, file), deps.proc.readAs(pid, file)]);
  if (!(await deps.proc.process(pid))) return undefined;
  const fail = (why: string): never => {
    throw new StepFailedError(Codes.SKIP_FILE_NOT_SEEN, `the new ${c.name} (pid ${pid}) did not see the skip file ${skipFile}: ${why}; rolling back before it restarts containers`, { pid, path: skipFile });
  };
  if (!mine || content === undefined) fail('the file is gone from the agent\'s view');
  if (!theirs) fail('its root has no such file');
  if (theirs!.dev !== mine!.dev || theirs!.ino !== mine!.ino) {
    const own = theirContent !== undefined && theirContent.replace(/ /g, '').split(',')[0] === ownVersion;
    fail(own ? `it wrote its own (${theirContent!}) into another file at that path` : `its root shows another file at that path (${JSON.stringify(theirContent ?? '')})`);
  }
  if (theirContent !== content) fail(`the file now holds ${JSON.stringify(theirContent ?? '')}, not ${JSON.stringify(content)}: it wrote its own`);
  return `the ${c.name} sees the skip file (${content})`;
}
