import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

/** How a streaming child ended. */
export interface StreamExit {
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  /** The last 64 KiB of its standard error. */
  readonly stderr: string;
}

/**
 * A long-running child whose standard output is read as it arrives (journalctl -f and the like).
 * `stop()` ends it (and whatever it started) and resolves when it is gone; always call it.
 */
export interface StreamProcess {
  readonly pid: number | undefined;
  /** Standard output, line by line, without the newline. Iterate once. */
  readonly lines: AsyncIterable<string>;
  readonly done: Promise<StreamExit>;
  stop(): Promise<StreamExit>;
}

export interface StreamSpawnOptions {
  readonly env?: Readonly<Record<string, string>>;
}

/** Starts `command` with an argument array and streams its standard output. */
export type StreamSpawn = (command: string, args: readonly string[], options?: StreamSpawnOptions) => StreamProcess;

const STDERR_KEEP = 64 * 1024;

/** Glue shared by stream spawners: line reader over stdout, capped stderr. */
export function streamParts(stdout: Readable | null, stderr: Readable | null): { lines: AsyncIterable<string>; stderrText: () => string } {
  let err = '';
  stderr?.setEncoding('utf8');
  stderr?.on('data', (chunk: string) => {
    err += chunk;
    if (err.length > STDERR_KEEP) err = err.slice(-STDERR_KEEP);
  });
  const lines: AsyncIterable<string> =
    stdout === null
      ? (async function* () {})()
      : createInterface({ input: stdout, crlfDelay: Number.POSITIVE_INFINITY });
  return { lines, stderrText: () => err };
}
