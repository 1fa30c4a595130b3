/**
 * A long-running daemon child for tests and the lab (containerd, dockerd). lib/exec.ts runs
 * commands to completion; a daemon has to outlive the call that starts it, so this is the one
 * place here that spawns directly. Output goes to a log file; stop() is TERM, then KILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { KipError } from '../../lib/errors.ts';

export interface Daemon {
  readonly pid: number;
  readonly logFile: string;
  /** Resolves with the exit code or signal once the process has ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  isRunning(): boolean;
  /** SIGTERM, wait up to graceMs, then SIGKILL; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

export function spawnDaemon(command: string, args: readonly string[], logFile: string, env?: Readonly<Record<string, string>>): Daemon {
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(command, [...args], { stdio: ['ignore', fd, fd], env: env ? { ...process.env, ...env } : process.env });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new KipError('DAEMON_SPAWN_FAILED', `could not start ${command}`, { command, logFile });
  let running = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false;
      resolve({ code, signal });
    });
    child.once('error', () => {
      running = false;
      resolve({ code: null, signal: null });
    });
  });
  return {
    pid,
    logFile,
    exited,
    isRunning: () => running,
    async stop(graceMs = 10_000) {
      if (!running) return;
      child.kill('SIGTERM');
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
      if ((await Promise.race([exited.then(() => 'exited' as const), timer])) === 'timeout') {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}
