/**
 * sd_notify for kip-agent without a native addon. Node's dgram has no AF_UNIX datagram sockets,
 * so messages go through systemd's own `systemd-notify`, spawned by the agent (lib/exec.ts).
 *
 * Why that is reliable (measured in an nspawn systemd 252, scripts/systemd/README.md): the unit's
 * bounding set has no CAP_SYS_ADMIN, so systemd-notify cannot send with the agent's pid as
 * credentials (the kernel refuses; it falls back to its own pid) and NotifyAccess=main dropped
 * 20/20 READY messages. With NotifyAccess=all systemd maps the sender's pid to the unit by its
 * cgroup, which fails once the sender has exited; systemd-notify (systemd >= 246) therefore waits
 * on a barrier until PID 1 has processed the message: 20/20 starts reached READY, against 17/20
 * with --no-block. So: NotifyAccess=all and never --no-block. --pid=<agent> adds MAINPID=, which
 * keeps the main PID right should a wrapper ever exec the agent.
 *
 * The watchdog heartbeat runs on the agent's own event loop (Clock.sleep): a loop that stalls
 * (SIGSTOP, a busy loop, a deadlock on a sync call) stops the heartbeats and systemd restarts the
 * unit after WatchdogSec.
 */
import type { Clock } from '../../lib/clock.ts';
import type { Exec } from '../../lib/exec.ts';
import type { Logger } from '../../lib/logger.ts';

export interface Notifier {
  /** READY=1 with a one-line STATUS=. */
  ready(status: string): Promise<void>;
  status(status: string): Promise<void>;
  stopping(status: string): Promise<void>;
  /** Starts WATCHDOG=1 every WATCHDOG_USEC/3 when systemd asked for a watchdog; returns the stopper. */
  startWatchdog(): () => void;
}

export interface NotifyEnv {
  readonly NOTIFY_SOCKET?: string | undefined;
  readonly WATCHDOG_USEC?: string | undefined;
  readonly WATCHDOG_PID?: string | undefined;
}

/** STATUS= is one line; systemd shows it in `systemctl status`. */
export function statusLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').slice(0, 200);
}

/** The heartbeat interval, or undefined when no watchdog applies to this process (sd_watchdog_enabled semantics). */
export function watchdogIntervalMs(env: NotifyEnv, pid: number): number | undefined {
  const usec = Number(env.WATCHDOG_USEC ?? '');
  if (!Number.isSafeInteger(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID !== undefined && env.WATCHDOG_PID !== '' && Number(env.WATCHDOG_PID) !== pid) return undefined;
  return Math.max(50, Math.floor(usec / 3000));
}

/** A notifier that does nothing: not started by systemd (no $NOTIFY_SOCKET), e.g. tests and a shell. */
export const noNotifier: Notifier = {
  ready: async () => undefined,
  status: async () => undefined,
  stopping: async () => undefined,
  startWatchdog: () => () => undefined,
};

export function createNotifier(deps: { exec: Exec; env: NotifyEnv; pid: number; clock: Clock; logger: Logger; binary?: string }): Notifier {
  if (!deps.env.NOTIFY_SOCKET) return noNotifier;
  const log = deps.logger.child({ component: 'sd-notify' });
  const binary = deps.binary ?? 'systemd-notify';
  const send = async (assignments: readonly string[]): Promise<void> => {
    // systemd-notify reads NOTIFY_SOCKET from its environment; lib/exec.ts passes ours on.
    const r = await deps.exec(binary, [`--pid=${deps.pid}`, ...assignments], { timeoutMs: 5_000 });
    if (r.exitCode !== 0) log.warn({ exitCode: r.exitCode, stderr: r.stderr.trim(), assignments }, 'systemd-notify failed');
  };
  return {
    ready: (s) => send(['READY=1', `STATUS=${statusLine(s)}`]),
    status: (s) => send([`STATUS=${statusLine(s)}`]),
    stopping: (s) => send(['STOPPING=1', `STATUS=${statusLine(s)}`]),
    startWatchdog: () => {
      const every = watchdogIntervalMs(deps.env, deps.pid);
      if (every === undefined) return () => undefined;
      const ac = new AbortController();
      log.info({ everyMs: every }, 'watchdog heartbeat on');
      void (async () => {
        while (!ac.signal.aborted) {
          await send(['WATCHDOG=1']).catch((err: unknown) => log.warn({ err }, 'watchdog heartbeat failed'));
          await deps.clock.sleep(every, ac.signal);
        }
      })();
      return () => ac.abort();
    },
  };
}
