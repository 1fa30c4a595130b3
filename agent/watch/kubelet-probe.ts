/**
 * The kubelet's process for the node watcher's every poll, without a `systemctl show` each time
 * (issue 11: 1 % of a core idle). `systemctl show` is a fork of the agent plus a D-Bus round trip
 * to PID 1; it was a third of the idle agent's own CPU at a 1 s poll (node --cpu-prof, 500
 * containers). While the last answer was "active, MainPID P", a read of /proc/P/stat showing the
 * same process (same start time, not a zombie) stands for systemd's answer, and systemd is asked
 * again at least every `confirmEveryMs`. Any other case asks systemd at once: a new MainPID (the
 * kubelet restarted or was restarted) is seen at the same poll as before, because the old process
 * is gone from /proc. What only systemd knows while the same process still lives (deactivating,
 * reloading) is seen within confirmEveryMs instead of one poll; the stop itself is seen when the
 * process exits. A failing systemd is asked again after a doubling delay up to confirmEveryMs, and
 * each poll in between gets the same error. recheck() makes the next read ask systemd at once: the
 * journal watcher calls it on any systemd message about the unit ("Stopping ...", "Reloading"),
 * so a stop whose process lives on (deactivating) is seen at the next poll, not within
 * confirmEveryMs (8.8 s measured before).
 */
import type { Clock } from '../../lib/clock.ts';
import type { KubeletProcess } from './node-watcher.ts';

export interface KubeletProbePorts {
  /** systemd's answer for the kubelet unit (ActiveState active and MainPID). */
  readonly unit: () => Promise<KubeletProcess>;
  /** /proc/<pid>/stat, or undefined when there is no such process. */
  readonly procStat: (pid: number) => Promise<string | undefined>;
  readonly clock: Clock;
  /** Default 10 s. */
  readonly confirmEveryMs?: number;
  /** First retry delay after a failure (default 1 s), doubled up to confirmEveryMs. */
  readonly retryMs?: number;
}

/** Field 22 (starttime) and field 3 (state) of /proc/<pid>/stat, after the parenthesised comm. */
export function processIdentity(stat: string): { state: string; startTime: string } | undefined {
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  const rest = stat.slice(close + 2).split(' ');
  const state = rest[0];
  const startTime = rest[19];
  return state && startTime ? { state, startTime } : undefined;
}

export class KubeletProbe {
  readonly #p: KubeletProbePorts;
  #last: { value: KubeletProcess; startTime: string | undefined; at: number } | undefined;
  #failure: { err: unknown; retryAt: number; delay: number } | undefined;
  #asked = 0;

  constructor(ports: KubeletProbePorts) {
    this.#p = ports;
  }

  /** How many times systemd was asked. */
  get systemdCalls(): number {
    return this.#asked;
  }

  /** The next read() asks systemd (after a failure, still not before its retry time). */
  recheck(): void {
    this.#last = undefined;
  }

  async read(): Promise<KubeletProcess> {
    const now = this.#p.clock.now();
    const confirm = this.#p.confirmEveryMs ?? 10_000;
    const last = this.#last;
    if (last && last.startTime !== undefined && now - last.at < confirm && (await this.#sameProcess(last.value.mainPid, last.startTime))) return last.value;
    const failed = this.#failure;
    if (failed && now < failed.retryAt) throw failed.err;
    this.#asked++;
    let value: KubeletProcess;
    try {
      value = await this.#p.unit();
    } catch (err) {
      const delay = failed ? Math.min(failed.delay * 2, confirm) : (this.#p.retryMs ?? 1_000);
      this.#failure = { err, retryAt: now + delay, delay };
      this.#last = undefined;
      throw err;
    }
    this.#failure = undefined;
    const up = value.active && value.mainPid > 0;
    const id = up ? await this.#identity(value.mainPid) : undefined;
    this.#last = { value, startTime: id && id.state !== 'Z' ? id.startTime : undefined, at: now };
    return value;
  }

  async #identity(pid: number): Promise<{ state: string; startTime: string } | undefined> {
    const stat = await this.#p.procStat(pid).catch(() => undefined);
    return stat === undefined ? undefined : processIdentity(stat);
  }

  async #sameProcess(pid: number, startTime: string): Promise<boolean> {
    const id = await this.#identity(pid);
    return id !== undefined && id.state !== 'Z' && id.startTime === startTime;
  }
}
