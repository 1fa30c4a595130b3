import type { Exec, ExecResult } from '../../lib/exec.ts';
import { SystemdCommandError } from './errors.ts';
import { assertPropertyName, assertUnitName, parseShowOutput } from './parse.ts';

export interface Systemd {
  /** `systemctl show UNIT -p ...`: the requested properties that systemd printed. */
  show(unit: string, properties: readonly string[]): Promise<Record<string, string>>;
  start(unit: string): Promise<void>;
  stop(unit: string): Promise<void>;
  restart(unit: string): Promise<void>;
  daemonReload(): Promise<void>;
  /** 'active' | 'inactive' | 'failed' | 'activating' | 'deactivating' | 'reloading' | ... */
  isActive(unit: string): Promise<string>;
}

export interface SystemdOptions {
  /** Program to run; default 'systemctl'. */
  readonly systemctl?: string;
  /** For show, is-active, daemon-reload; default 30 s. */
  readonly queryTimeoutMs?: number;
  /** For start/stop/restart (a job may wait for the unit's own timeouts); default 150 s. */
  readonly jobTimeoutMs?: number;
  /** PATH for the child; default process.env.PATH or the Debian default. */
  readonly path?: string;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Environment for every systemctl/journalctl child: a fixed, minimal one. TZ=UTC makes the
 * pretty timestamps parseable (parseTimestampUsec); LC_ALL=C keeps messages stable.
 */
export function systemdChildEnv(path: string | undefined): Record<string, string> {
  return { PATH: path ?? process.env.PATH ?? DEFAULT_PATH, TZ: 'UTC', LC_ALL: 'C', SYSTEMD_PAGER: '', SYSTEMD_COLORS: '0' };
}

/** systemctl through the Exec port (argument arrays, timeouts). The only caller of systemctl in kip. */
export function createSystemd(exec: Exec, options: SystemdOptions = {}): Systemd {
  const systemctl = options.systemctl ?? 'systemctl';
  const queryTimeoutMs = options.queryTimeoutMs ?? 30_000;
  const jobTimeoutMs = options.jobTimeoutMs ?? 150_000;
  const env = systemdChildEnv(options.path);

  const run = (args: readonly string[], timeoutMs: number): Promise<ExecResult> => exec(systemctl, args, { timeoutMs, env });

  const fail = (what: string, unit: string | undefined, r: ExecResult): SystemdCommandError =>
    new SystemdCommandError(
      `systemctl ${what}${unit !== undefined ? ` ${unit}` : ''} ${r.timedOut ? `timed out after ${Math.round(r.durationMs)} ms` : `failed (exit ${String(r.exitCode)})`}: ${r.stderr.trim()}`,
      { ...(unit !== undefined ? { unit } : {}), args: r.args, exitCode: r.exitCode, stderr: r.stderr, timedOut: r.timedOut },
    );

  const job = async (verb: 'start' | 'stop' | 'restart', unit: string): Promise<void> => {
    assertUnitName(unit);
    const r = await run([verb, '--', unit], jobTimeoutMs);
    if (r.timedOut || r.exitCode !== 0) throw fail(verb, unit, r);
  };

  return {
    async show(unit, properties) {
      assertUnitName(unit);
      if (properties.length === 0) return {};
      for (const p of properties) assertPropertyName(p);
      const r = await run(['show', `--property=${properties.join(',')}`, '--', unit], queryTimeoutMs);
      if (r.timedOut || r.exitCode !== 0) throw fail('show', unit, r);
      return parseShowOutput(r.stdout);
    },
    start: (unit) => job('start', unit),
    stop: (unit) => job('stop', unit),
    restart: (unit) => job('restart', unit),
    async daemonReload() {
      const r = await run(['daemon-reload'], queryTimeoutMs);
      if (r.timedOut || r.exitCode !== 0) throw fail('daemon-reload', undefined, r);
    },
    async isActive(unit) {
      assertUnitName(unit);
      // Exit 0 means active; 3 (or other) with the state on stdout is an answer, not a failure.
      const r = await run(['is-active', '--', unit], queryTimeoutMs);
      const state = r.stdout.trim();
      if (r.timedOut || state === '' || state.includes('\n')) throw fail('is-active', unit, r);
      return state;
    },
  };
}
