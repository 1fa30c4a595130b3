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
  const result = await execa(command, [...args], {
    reject: false,
    timeout: options.timeoutMs,
    forceKillAfterDelay: options.killGraceMs ?? 2_000,
    input: options.input,
    env: options.env ? { ...options.env } : undefined,
    extendEnv: options.env === undefined,
    cwd: options.cwd,
    stripFinalNewline: false,
  });
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
