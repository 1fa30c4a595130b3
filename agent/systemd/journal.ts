import type { Exec } from '../../lib/exec.ts';
import { JournalCommandError, SystemdArgumentError } from './errors.ts';
import { assertUnitName, parseJournalLine, usecToSinceArg, type JournalEntry } from './parse.ts';
import { execaStreamSpawn, type StreamSpawn } from './stream.ts';
import { systemdChildEnv } from './systemd.ts';

export interface JournalReadOptions {
  /** The last N entries (journalctl -n); default: all that match. */
  readonly lines?: number;
  /** Only entries at or after this realtime (µs since the epoch). */
  readonly sinceUsec?: bigint;
  /** Only entries after this cursor. */
  readonly afterCursor?: string;
}

export interface JournalFollowOptions {
  /** Abort ends the iteration and the journalctl child. */
  readonly signal: AbortSignal;
  /** Start after this cursor (entries already written are delivered first); default: only new entries. */
  readonly afterCursor?: string;
  /** Without a cursor: deliver every entry the unit has (for a unit whose journal was empty when last read). */
  readonly fromStart?: boolean;
}

export interface Journal {
  read(unit: string, options: JournalReadOptions): Promise<JournalEntry[]>;
  follow(unit: string, options: JournalFollowOptions): AsyncIterable<JournalEntry>;
}

export interface JournalOptions {
  /** Streaming spawner for follow; default: execa on this host. */
  readonly spawn?: StreamSpawn;
  /** Program to run; default 'journalctl'. */
  readonly journalctl?: string;
  /** For read; default 30 s. */
  readonly timeoutMs?: number;
  readonly path?: string;
}

function assertCursor(cursor: string): void {
  if (cursor === '' || /[\n\r\0]/.test(cursor) || cursor.startsWith('-')) {
    throw new SystemdArgumentError('invalid journal cursor', { cursor: cursor.slice(0, 200) });
  }
}

/**
 * journalctl through the Exec port (read) and a streaming child (follow), always `-o json --all`
 * (without --all journalctl prints fields over 4096 bytes as null).
 */
export function createJournal(exec: Exec, options: JournalOptions = {}): Journal {
  const journalctl = options.journalctl ?? 'journalctl';
  const timeoutMs = options.timeoutMs ?? 30_000;
  const spawn = options.spawn ?? execaStreamSpawn;
  const env = systemdChildEnv(options.path);
  const base = (unit: string): string[] => ['--unit', unit, '--output=json', '--all', '--no-pager', '--quiet'];

  return {
    async read(unit, opts) {
      assertUnitName(unit);
      const args = base(unit);
      if (opts.lines !== undefined) {
        if (!Number.isInteger(opts.lines) || opts.lines < 0) throw new SystemdArgumentError('lines must be a non-negative integer', { lines: opts.lines });
        args.push(`--lines=${opts.lines}`);
      }
      if (opts.sinceUsec !== undefined) args.push(`--since=${usecToSinceArg(opts.sinceUsec)}`);
      if (opts.afterCursor !== undefined) {
        assertCursor(opts.afterCursor);
        args.push(`--after-cursor=${opts.afterCursor}`);
      }
      const r = await exec(journalctl, args, { timeoutMs, env });
      if (r.timedOut || r.exitCode !== 0) {
        throw new JournalCommandError(
          `journalctl for ${unit} ${r.timedOut ? 'timed out' : `failed (exit ${String(r.exitCode)})`}: ${r.stderr.trim()}`,
          { unit, args, exitCode: r.exitCode, stderr: r.stderr, timedOut: r.timedOut },
        );
      }
      const entries: JournalEntry[] = [];
      for (const line of r.stdout.split('\n')) {
        if (line.trim() === '') continue;
        const e = parseJournalLine(line);
        // --since has whole-microsecond input but we filter again to be exact at the boundary.
        if (opts.sinceUsec !== undefined && e.realtimeUsec < opts.sinceUsec) continue;
        entries.push(e);
      }
      return entries;
    },

    follow(unit, opts) {
      assertUnitName(unit);
      const args = [...base(unit), '--follow'];
      if (opts.afterCursor !== undefined) {
        assertCursor(opts.afterCursor);
        args.push(`--after-cursor=${opts.afterCursor}`);
      } else {
        args.push(opts.fromStart ? '--lines=all' : '--lines=0');
      }
      return {
        async *[Symbol.asyncIterator]() {
          if (opts.signal.aborted) return;
          const child = spawn(journalctl, args, { env });
          const onAbort = (): void => {
            void child.stop();
          };
          opts.signal.addEventListener('abort', onAbort, { once: true });
          try {
            for await (const line of child.lines) {
              if (opts.signal.aborted) return;
              if (line.trim() === '') continue;
              yield parseJournalLine(line);
            }
            if (opts.signal.aborted) return;
            const exit = await child.done;
            throw new JournalCommandError(`journalctl --follow for ${unit} ended (exit ${String(exit.exitCode)}, signal ${String(exit.signal)}): ${exit.stderr.trim()}`, {
              unit,
              args,
              exitCode: exit.exitCode,
              stderr: exit.stderr,
              timedOut: false,
            });
          } finally {
            opts.signal.removeEventListener('abort', onAbort);
            await child.stop();
          }
        },
      };
    },
  };
}
