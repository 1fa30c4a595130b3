import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../lib/clock.ts';
import type { Exec } from '../../lib/exec.ts';
import { silentLogger } from '../../lib/logger.ts';
import { createNotifier, noNotifier, statusLine, watchdogIntervalMs } from '../../agent/systemd/notify.ts';
import { nodeStatusLine } from '../../agent/status.ts';
import type { NodeInfo } from '../../agent/upgrade/types.ts';

function recorder(): { exec: Exec; calls: string[][] } {
  const calls: string[][] = [];
  const exec: Exec = async (command, args) => {
    calls.push([command, ...args]);
    return { command, args, exitCode: 0, signal: undefined, stdout: '', stderr: '', timedOut: false, durationMs: 1 };
  };
  return { exec, calls };
}

describe('sd_notify through systemd-notify', () => {
  it('does nothing without NOTIFY_SOCKET', () => {
    const r = recorder();
    expect(createNotifier({ exec: r.exec, env: {}, pid: 7, clock: new FakeClock(), logger: silentLogger() })).toBe(noNotifier);
  });

  it('sends READY with a one-line status and the agent pid, never --no-block', async () => {
    const r = recorder();
    const n = createNotifier({ exec: r.exec, env: { NOTIFY_SOCKET: '/run/systemd/notify' }, pid: 42, clock: new FakeClock(), logger: silentLogger() });
    await n.ready('serving x:\nkubelet v1.10.13');
    await n.stopping('bye');
    expect(r.calls).toEqual([
      ['systemd-notify', '--pid=42', 'READY=1', 'STATUS=serving x: kubelet v1.10.13'],
      ['systemd-notify', '--pid=42', 'STOPPING=1', 'STATUS=bye'],
    ]);
  });

  it('beats every WATCHDOG_USEC/3 on the clock and stops when told', async () => {
    const r = recorder();
    const clock = new FakeClock();
    const n = createNotifier({ exec: r.exec, env: { NOTIFY_SOCKET: '/s', WATCHDOG_USEC: '3000000', WATCHDOG_PID: '42' }, pid: 42, clock, logger: silentLogger() });
    const stop = n.startWatchdog();
    const beats = () => r.calls.filter((c) => c.includes('WATCHDOG=1')).length;
    await new Promise((res) => setImmediate(res));
    expect(beats()).toBe(1);
    clock.advance(999);
    await new Promise((res) => setImmediate(res));
    expect(beats()).toBe(1);
    clock.advance(1);
    await new Promise((res) => setImmediate(res));
    expect(beats()).toBe(2);
    stop();
    clock.advance(5000);
    await new Promise((res) => setImmediate(res));
    expect(beats()).toBe(2);
  });

  it('applies the watchdog only to the pid systemd named', () => {
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000' }, 1)).toBe(10_000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '2' }, 1)).toBeUndefined();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: 'x' }, 1)).toBeUndefined();
    expect(watchdogIntervalMs({}, 1)).toBeUndefined();
    expect(statusLine('a\r\nb')).toBe('a b');
  });
});

describe('STATUS= summary', () => {
  const base: NodeInfo = {
    nodeName: 'n1', agentVersion: '0.1.0', kubeletBinary: '/usr/bin/kubelet', kubeletVersion: 'v1.10.13', kubeletSha256: 'x', kubeletPatched: true,
    unit: { name: 'kubelet.service', activeState: 'active', subState: 'running', mainPid: 5, startedAtUnixMs: 0, privateTmp: false },
    skipFile: { path: '/tmp/cache.version.save', present: false, valid: false, version: '', unixSeconds: 0, raw: '', problem: '' },
    disks: [], staged: [], lastRunId: '', lastRunPhase: '',
  };
  it('says kubelet, skip file, staged and last run', () => {
    expect(nodeStatusLine(base, '0.0.0.0:7443')).toBe('serving 0.0.0.0:7443: kubelet v1.10.13 active, no skip file, 0 staged');
    expect(nodeStatusLine({ ...base, kubeletVersion: '', lastRunId: 'r1', lastRunPhase: 'RUN_SUCCEEDED' }, 'a:1')).toBe('serving a:1: kubelet missing (/usr/bin/kubelet), no skip file, 0 staged, last run r1 succeeded');
  });
});
