import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import { InvalidInputError } from '../lib/errors.ts';

/** What a CLI command may touch, passed in so commands are testable without a process. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Reads a named file, or standard input for "-". */
  readonly readInput: (path: string) => Promise<string>;
  /** The process environment (KUBECONFIG, NO_COLOR, HOME); empty when not given. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Whether standard output is a terminal: colour and progress only then. */
  readonly stdoutIsTTY?: boolean;
}

/**
 * Exit codes (documented in `kip --help` and the README): 0 done, 1 the job failed or the run
 * paused, 2 the command line or its input is wrong (nothing changed), 3 another run holds the
 * cluster's lock.
 */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_LOCKED = 3;

export function processIo(): CliIo {
  return {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    readInput: async (path) => {
      try {
        return path === '-' ? await text(process.stdin) : await readFile(path, 'utf8');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new InvalidInputError('CLI_INPUT_UNREADABLE', `cannot read ${path === '-' ? 'standard input' : path}: ${code ?? (err as Error).message}`, { path }, { cause: err });
      }
    },
    env: process.env,
    stdoutIsTTY: process.stdout.isTTY === true,
  };
}
