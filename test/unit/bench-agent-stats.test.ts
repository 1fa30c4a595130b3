import { describe, expect, it } from 'vitest';
import { BenchDataError, cpuPercent, cpuTicks, median, memoryKiB, percentile, swapTiming, type BenchStepEvent } from '../../bench/agent-stats.ts';

const ev = (step: string, status: string, atUnixMs: number, firstHealthyAtUnixMs = 0): BenchStepEvent => ({ step, status, atUnixMs, firstHealthyAtUnixMs });

describe('percentile', () => {
  it('interpolates between closest ranks and does not depend on input order', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(percentile([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 90)).toBe(91);
    expect(percentile([7], 90)).toBe(7);
    expect(percentile([3, 1, 2], 0)).toBe(1);
    expect(percentile([3, 1, 2], 100)).toBe(3);
  });

  it('refuses no values and a percentile outside [0, 100]', () => {
    expect(() => median([])).toThrow(BenchDataError);
    expect(() => percentile([1], 101)).toThrow(/outside/);
  });
});

describe('swapTiming', () => {
  const upgrade = [
    ev('WRITE_SKIP_FILE', 'STEP_DONE', 900),
    ev('STOP_KUBELET', 'STEP_STARTED', 1000),
    ev('STOP_KUBELET', 'STEP_DONE', 1030),
    ev('SWAP_BINARY', 'STEP_STARTED', 1031),
    ev('SWAP_BINARY', 'STEP_DONE', 1040),
    ev('START_KUBELET', 'STEP_STARTED', 1042),
    ev('START_KUBELET', 'STEP_DONE', 1300),
    ev('VERIFY', 'STEP_STARTED', 1301),
    ev('VERIFY', 'STEP_DONE', 1800, 1420),
  ];

  it('takes downtime from stop started to the first healthy answer, with the parts between', () => {
    expect(swapTiming(upgrade, 'upgrade')).toEqual({ downtimeMs: 420, stopMs: 30, swapMs: 12, startMs: 258, toHealthyMs: 120 });
  });

  it('reads the rollback steps of a run that also holds its forward events', () => {
    const rolled = [
      ...upgrade,
      ev('ROLLBACK_STOP', 'STEP_STARTED', 5000),
      ev('ROLLBACK_STOP', 'STEP_DONE', 5020),
      ev('ROLLBACK_RESTORE', 'STEP_DONE', 5050),
      ev('ROLLBACK_START', 'STEP_STARTED', 5051),
      ev('ROLLBACK_START', 'STEP_DONE', 5200),
      ev('ROLLBACK_VERIFY', 'STEP_DONE', 5600, 5290),
    ];
    expect(swapTiming(rolled, 'rollback')).toEqual({ downtimeMs: 290, stopMs: 20, swapMs: 31, startMs: 149, toHealthyMs: 90 });
  });

  it('measures the last attempt of a step repeated after an agent restart', () => {
    const resumed = [ev('STOP_KUBELET', 'STEP_STARTED', 500), ...upgrade];
    expect(swapTiming(resumed, 'upgrade').downtimeMs).toBe(420);
  });

  it('refuses a run without the first-healthy mark, a missing step, or times out of order', () => {
    expect(() => swapTiming(upgrade.map((e) => (e.step === 'VERIFY' ? { ...e, firstHealthyAtUnixMs: 0 } : e)), 'upgrade')).toThrow(/first healthy/);
    expect(() => swapTiming(upgrade.filter((e) => e.step !== 'START_KUBELET'), 'upgrade')).toThrow(/START_KUBELET/);
    expect(() => swapTiming(upgrade, 'rollback')).toThrow(BenchDataError);
    const early = upgrade.map((e) => (e.step === 'VERIFY' && e.status === 'STEP_DONE' ? { ...e, firstHealthyAtUnixMs: 1100 } : e));
    expect(() => swapTiming(early, 'upgrade')).toThrow(/out of order/);
  });
});

describe('idle figures from /proc', () => {
  // A comm with a space and a ')' must not shift the fields.
  const stat = (utime: number, stime: number) => `4242 (node (x) y) S 1 4242 4242 0 -1 4194560 9000 0 12 0 ${utime} ${stime} 0 0 20 0 11 0 555 0 0`;

  it('sums utime and stime after the comm field', () => {
    expect(cpuTicks(stat(120, 30))).toBe(150);
    expect(() => cpuTicks('garbage')).toThrow(BenchDataError);
  });

  it('turns a tick delta into % of one core', () => {
    expect(cpuPercent(stat(100, 20), stat(105, 20), 5000, 100)).toBeCloseTo(1, 10);
    expect(cpuPercent(stat(100, 20), stat(100, 20), 5000, 100)).toBe(0);
    expect(() => cpuPercent(stat(100, 20), stat(90, 20), 5000, 100)).toThrow(/backwards/);
  });

  it('reads VmRSS and VmHWM from /proc/<pid>/status', () => {
    const status = 'Name:\tnode\nVmPeak:\t 1000 kB\nVmHWM:\t  230000 kB\nVmRSS:\t  200000 kB\nThreads:\t11\n';
    expect(memoryKiB(status)).toEqual({ rssKiB: 200000, hwmKiB: 230000 });
    expect(() => memoryKiB('Name:\tnode\n')).toThrow(/VmRSS/);
  });
});
