import { spawn, type ChildProcess } from 'node:child_process';
import { execa } from 'execa';
import { KipError } from './errors.ts';

/** The result of a child process, as data. A non-zero exit is not an exception here. */
export interface ExecResult {
  readonly command: string;
  readonly args: readonly string[];
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly durationMs: number;
}

export interface ExecOptions {
  /** Kill the child (SIGTERM, then SIGKILL after killGraceMs) when it runs longer. */
  readonly timeoutMs: number;
  readonly killGraceMs?: number;
  readonly input?: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** Output as it arrives (a long-running command's progress), besides the whole in the result. */
  readonly onOutput?: (stream: 'stdout' | 'stderr', chunk: string) => void;
}

/** The port through which logic runs a program: argument arrays only, never a shell string. */
export type Exec = (command: string, args: readonly string[], options: ExecOptions) => Promise<ExecResult>;

export class ExecSpawnError extends KipError {
  constructor(command: string, cause: unknown) {
    super('EXEC_SPAWN_FAILED', `could not start ${command}: ${cause instanceof Error ? cause.message : String(cause)}`, { command }, { cause });
  }
}

/** The production Exec, through execa. */
export const execaExec: Exec = async (command, args, options) => {
  const started = performance.now();
  const child = execa(command, [...args], {
    reject: false,
    timeout: options.timeoutMs,
    forceKillAfterDelay: options.killGraceMs ?? 2_000,
    input: options.input,
    env: options.env ? { ...options.env } : undefined,
    extendEnv: options.env === undefined,
    cwd: options.cwd,
    stripFinalNewline: false,
  });
  const { onOutput } = options;
  if (onOutput) {
    child.stdout?.on('data', (b: Buffer) => onOutput('stdout', b.toString('utf8')));
    child.stderr?.on('data', (b: Buffer) => onOutput('stderr', b.toString('utf8')));
  }
  const result = await child;
  if (result.failed && result.exitCode === undefined && !result.timedOut && result.signal === undefined) {
    throw new ExecSpawnError(command, result.originalMessage ?? result.message);
  }
  return {
    command,
    args,
    exitCode: result.exitCode,
    signal: result.signal,
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? ''),
    timedOut: result.timedOut,
    durationMs: performance.now() - started,
  };
};

/** Most bytes kept of each of stdout and stderr of an isolated run (the rest is dropped). */
export const ISOLATED_OUTPUT_LIMIT = 4 << 20;

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is gone already.
  }
}

/**
 * The Exec for programs under inspection (an uploaded kubelet's `--version` and `--help`): the
 * child leads its own process group; at the deadline the whole group gets SIGTERM, then SIGKILL
 * after killGraceMs; when the child exits, whatever it left in its group is killed; and the call
 * never waits for a pipe a grandchild still holds (one that left the group with setsid) longer
 * than killGraceMs. execa waits for every holder of the pipes to exit, so a script running
 * `sleep 300 & echo ...` kept the call pending for 300 s (issue 8, defect 12). Output is capped.
 */
export const isolatedExec: Exec = (command, args, options) =>
  new Promise<ExecResult>((resolve, reject) => {
    const started = performance.now();
    const graceMs = options.killGraceMs ?? 2_000;
    let child: ChildProcess;
    try {
      child = spawn(command, [...args], {
        detached: true,
        stdio: [options.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
        env: options.env ? { ...options.env } : process.env,
        cwd: options.cwd,
      });
    } catch (err) {
      reject(new ExecSpawnError(command, err));
      return;
    }
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const collect = (into: Buffer[]) => {
      let kept = 0;
      return (chunk: Buffer) => {
        if (kept >= ISOLATED_OUTPUT_LIMIT) return;
        const part = chunk.subarray(0, ISOLATED_OUTPUT_LIMIT - kept);
        kept += part.length;
        into.push(part);
      };
    };
    child.stdout?.on('data', collect(out));
    child.stderr?.on('data', collect(err));
    if (options.input !== undefined) {
      child.stdin?.on('error', () => {});
      child.stdin?.end(options.input);
    }
    let timedOut = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const finish = () => {
      if (settled || !exit) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve({
        command,
        args,
        exitCode: exit.code ?? undefined,
        signal: exit.signal ?? undefined,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
        durationMs: performance.now() - started,
      });
    };
    child.once('error', (e) => {
      if (exit || settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      killGroup(child.pid, 'SIGKILL');
      reject(new ExecSpawnError(command, e));
    });
    const deadline = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid, 'SIGTERM');
      timers.push(setTimeout(() => killGroup(child.pid, 'SIGKILL'), graceMs));
    }, options.timeoutMs);
    timers.push(deadline);
    child.once('exit', (code, signal) => {
      clearTimeout(deadline);
      exit = { code, signal };
      // The leader is gone: nothing it started may outlive the inspection.
      killGroup(child.pid, 'SIGKILL');
      timers.push(setTimeout(finish, graceMs));
    });
    child.once('close', finish);
  });
