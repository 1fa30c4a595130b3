import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { execa } from 'execa';

/** How a streaming child ended. */
export interface StreamExit {
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  /** The last 64 KiB of its standard error (or why it could not start). */
  readonly stderr: string;
}

/**
 * A long-running child read as it writes (journalctl -f). `stop()` ends it and resolves when it
 * is gone; it is safe to call more than once and after the child ended by itself.
 */
export interface StreamProcess {
  readonly pid: number | undefined;
  /** Standard output line by line, without the newline. Iterate once. */
  readonly lines: AsyncIterable<string>;
  readonly done: Promise<StreamExit>;
  stop(): Promise<StreamExit>;
}

export interface StreamSpawnOptions {
  /** The child's whole environment (nothing inherited) when given. */
  readonly env?: Readonly<Record<string, string>>;
}

/** Starts a program with an argument array and streams its standard output. */
export type StreamSpawn = (command: string, args: readonly string[], options?: StreamSpawnOptions) => StreamProcess;

const STDERR_KEEP = 64 * 1024;

/** Glue shared by stream spawners (here and the nspawn harness): line reader over stdout, capped stderr. */
export function streamParts(stdout: Readable | null, stderr: Readable | null): { lines: AsyncIterable<string>; stderrText: () => string } {
  let err = '';
  stderr?.setEncoding('utf8');
  stderr?.on('data', (chunk: string) => {
    err += chunk;
    if (err.length > STDERR_KEEP) err = err.slice(-STDERR_KEEP);
  });
  const lines: AsyncIterable<string> =
    stdout === null ? (async function* () {})() : createInterface({ input: stdout, crlfDelay: Number.POSITIVE_INFINITY });
  return { lines, stderrText: () => err };
}

/** The host StreamSpawn, through execa: SIGTERM on stop, SIGKILL after killGraceMs. */
export function createExecaStreamSpawn(options: { killGraceMs?: number } = {}): StreamSpawn {
  const graceMs = options.killGraceMs ?? 5_000;
  return (command, args, spawnOptions = {}) => {
    const child = execa(command, [...args], {
      stdin: 'ignore',
      reject: false,
      buffer: false,
      ...(spawnOptions.env !== undefined ? { env: { ...spawnOptions.env }, extendEnv: false } : {}),
    });
    const { lines, stderrText } = streamParts(child.stdout, child.stderr);
    let finished = false;
    const done: Promise<StreamExit> = child.then((r) => {
      finished = true;
      const why = r.failed && r.exitCode === undefined && r.signal === undefined ? (r.originalMessage ?? r.message) : '';
      return { exitCode: r.exitCode, signal: r.signal, stderr: why !== '' ? `${stderrText()}${why}` : stderrText() };
    });
    let stopping: Promise<StreamExit> | undefined;
    const stop = (): Promise<StreamExit> => {
      stopping ??= (async () => {
        if (!finished) {
          child.kill('SIGTERM');
          let timer: NodeJS.Timeout | undefined;
          const killed = new Promise<void>((resolve) => {
            timer = setTimeout(() => {
              child.kill('SIGKILL');
              resolve();
            }, graceMs);
          });
          await Promise.race([done, killed]);
          clearTimeout(timer);
        }
        return done;
      })();
      return stopping;
    };
    return { pid: child.pid, lines, done, stop };
  };
}

export const execaStreamSpawn: StreamSpawn = createExecaStreamSpawn();
