/** What a CLI command may touch, passed in so commands are testable without a process. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Reads a named file, or standard input for "-". */
  readonly readInput: (path: string) => Promise<string>;
}

/** Exit codes: 0 done, 1 the job failed, 2 the command line or its input is wrong. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
