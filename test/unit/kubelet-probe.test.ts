/** The node watcher's kubelet probe: systemd asked only when /proc cannot stand for its answer. */
import { readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../lib/clock.ts';
import { KubeletProbe, processIdentity } from '../../agent/watch/kubelet-probe.ts';
import type { KubeletProcess } from '../../agent/watch/node-watcher.ts';

const stat = (pid: number, start: number, state = 'S') => `${pid} (kube let) ${state} 1 ${pid} ${pid} 0 -1 4194560 1 0 0 0 10 20 0 0 20 0 12 0 ${start} 123456 789`;

function world() {
  const clock = new FakeClock(0);
  const w = {
    clock,
    unit: { active: true, mainPid: 100 } as KubeletProcess,
    unitFails: undefined as Error | undefined,
    procs: new Map<number, string>([[100, stat(100, 5000)]]),
  };
  const probe = new KubeletProbe({
    unit: async () => {
      if (w.unitFails) throw w.unitFails;
      return w.unit;
    },
    procStat: async (pid) => w.procs.get(pid),
    clock,
    confirmEveryMs: 10_000,
  });
  return { w, probe };
}

describe('KubeletProbe', () => {
  it('reads start time and state after the comm, spaces and parentheses in it included', () => {
    expect(processIdentity(stat(7, 4242, 'Z'))).toEqual({ state: 'Z', startTime: '4242' });
    expect(processIdentity('garbage')).toBeUndefined();
  });

  it('asks systemd once, then stands on /proc while the same process lives, and again every confirmEveryMs', async () => {
    const { w, probe } = world();
    for (let i = 0; i < 9; i++) {
      expect(await probe.read()).toEqual({ active: true, mainPid: 100 });
      w.clock.advance(1_000);
    }
    expect(probe.systemdCalls).toBe(1);
    w.clock.advance(1_000);
    await probe.read();
    expect(probe.systemdCalls).toBe(2);
  });

  it('recheck() makes the next read ask systemd although the same process lives (a systemd message about the unit)', async () => {
    const { w, probe } = world();
    await probe.read();
    w.clock.advance(1_000);
    await probe.read();
    expect(probe.systemdCalls).toBe(1);
    w.unit = { active: false, mainPid: 100 };
    probe.recheck();
    w.clock.advance(1_000);
    expect(await probe.read()).toEqual({ active: false, mainPid: 100 });
    expect(probe.systemdCalls).toBe(2);
  });

  it('a restarted kubelet (old pid gone, or the pid reused by a new process, or a zombie) is asked of systemd at the very next read', async () => {
    const { w, probe } = world();
    await probe.read();
    w.procs.delete(100);
    w.procs.set(200, stat(200, 6000));
    w.unit = { active: true, mainPid: 200 };
    w.clock.advance(1_000);
    expect(await probe.read()).toEqual({ active: true, mainPid: 200 });
    w.procs.set(200, stat(200, 7000));
    w.clock.advance(1_000);
    w.unit = { active: true, mainPid: 200 };
    await probe.read();
    expect(probe.systemdCalls).toBe(3);
    w.procs.set(200, stat(200, 7000, 'Z'));
    w.unit = { active: false, mainPid: 0 };
    w.clock.advance(1_000);
    expect(await probe.read()).toEqual({ active: false, mainPid: 0 });
  });

  it('a stopped kubelet is asked of systemd every read, so its start is seen at once', async () => {
    const { w, probe } = world();
    w.unit = { active: false, mainPid: 0 };
    await probe.read();
    await probe.read();
    w.unit = { active: true, mainPid: 100 };
    expect(await probe.read()).toEqual({ active: true, mainPid: 100 });
    expect(probe.systemdCalls).toBe(3);
  });

  it('systemd failing: the same error until a doubling retry delay (1, 2, 4, 8, then 10 s), then its answer again', async () => {
    const { w, probe } = world();
    w.unitFails = new Error('System has not been booted with systemd');
    const callsAt: number[] = [];
    for (let t = 0; t <= 40_000; t += 500) {
      const before = probe.systemdCalls;
      await expect(probe.read()).rejects.toThrow(/not been booted/);
      if (probe.systemdCalls > before) callsAt.push(w.clock.now());
      w.clock.advance(500);
    }
    expect(callsAt).toEqual([0, 1_000, 3_000, 7_000, 15_000, 25_000, 35_000]);
    w.unitFails = undefined;
    w.clock.advance(10_000);
    expect(await probe.read()).toEqual({ active: true, mainPid: 100 });
  });

  it('on the real /proc: a live process keeps its identity, and once it exited and was reaped it has none', async () => {
    const procStat = (pid: number) => readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
    const child = execa('sleep', ['60'], { reject: false });
    const pid = child.pid ?? 0;
    const first = processIdentity((await procStat(pid)) ?? '');
    expect(first?.startTime).toMatch(/^\d+$/);
    expect(processIdentity((await procStat(pid)) ?? '')).toEqual(first);
    child.kill('SIGKILL');
    await child;
    expect(await procStat(pid)).toBeUndefined();
  });
});
