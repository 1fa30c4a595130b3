import { describe, expect, it } from 'vitest';
import { nodeBatches, versionPath } from '../../coordinator/rollout/plan.ts';
import { upgradeNode } from '../../coordinator/rollout/node-upgrade.ts';
import type { StepEvent } from '../../coordinator/rollout/types.ts';

const releases = ['v1.11.10', 'v1.12.10', 'v1.13.12', 'v1.14.10', 'v1.15.12', 'v1.16.15', 'v1.17.17'];

describe('version path', () => {
  it('goes one minor at a time through the known releases', () => {
    expect(versionPath('v1.10.13', 'v1.13.12', releases)).toEqual([
      { from: 'v1.10.13', to: 'v1.11.10' }, { from: 'v1.11.10', to: 'v1.12.10' }, { from: 'v1.12.10', to: 'v1.13.12' },
    ]);
    expect(versionPath('v1.10.13', 'v1.10.14', releases)).toEqual([{ from: 'v1.10.13', to: 'v1.10.14' }]);
    expect(versionPath('v1.17.17', 'v1.17.17', releases)).toEqual([]);
  });
  it('refuses downgrades and minors it has no release for', () => {
    expect(() => versionPath('v1.12.10', 'v1.11.10', releases)).toThrow('older than the running');
    expect(() => versionPath('v1.17.17', 'v1.19.16', releases)).toThrow('no release known for 1.18');
    expect(() => versionPath('1.17', 'v1.18.1', releases)).toThrow('is not a Kubernetes version like v1.17.17');
  });
});

describe('node batches', () => {
  it('puts canaries first, one each, then batches of the concurrency, in name order', () => {
    expect(nodeBatches(['w3', 'w1', 'w2', 'w5', 'w4'], { canary: 1, concurrency: 2 })).toEqual([['w1'], ['w2', 'w3'], ['w4', 'w5']]);
    expect(nodeBatches(['b', 'a'], { canary: 0, concurrency: 5 })).toEqual([['a', 'b']]);
    expect(() => nodeBatches(['a'], { canary: 0, concurrency: 0 })).toThrow('concurrency');
  });
});

function ev(step: string, status: string, at: number, phase = 'RUN_RUNNING', extra: Partial<StepEvent> = {}): StepEvent {
  return { runId: 'r1', seq: at, step: step as StepEvent['step'], status: status as StepEvent['status'], message: '', atUnixMs: at, phase: phase as StepEvent['phase'], errorCode: '', journalTail: [], firstHealthyAtUnixMs: 0, mainPid: 0, downtimeMs: 0, skipFileWritten: '', skipped: '', ...extra };
}

describe('upgradeNode', () => {
  const agentOf = (events: StepEvent[]) => ({ upgrade: async function* () { yield* events; } });

  it('reports success and the kubelet downtime from the agent\'s timestamps', async () => {
    const r = await upgradeNode('w1', agentOf([
      ev('STOP_KUBELET', 'STEP_STARTED', 1000), ev('STOP_KUBELET', 'STEP_DONE', 1100), ev('START_KUBELET', 'STEP_DONE', 1300),
      ev('VERIFY', 'STEP_DONE', 11750, 'RUN_RUNNING', { message: 'v1.11.10 active and healthy for 10000 ms (pid 7)', firstHealthyAtUnixMs: 1750, mainPid: 7, downtimeMs: 750 }), ev('DONE', 'STEP_DONE', 11760, 'RUN_SUCCEEDED'),
    ]), { runId: 'r1', targetVersion: 'v1.11.10' });
    expect(r).toMatchObject({ outcome: 'succeeded', kubeletDowntimeMs: 750, node: 'w1' });
  });

  it('reports a rollback with the failing step\'s error and journal tail', async () => {
    const r = await upgradeNode('w1', agentOf([
      ev('STOP_KUBELET', 'STEP_STARTED', 1000), ev('VERIFY', 'STEP_FAILED', 5000, 'RUN_ROLLING_BACK', { errorCode: 'VERIFY_TIMEOUT', message: 'healthz never answered', journalTail: ['F0000 unknown flag'] }),
      ev('ROLLED_BACK', 'STEP_DONE', 6000, 'RUN_ROLLED_BACK'),
    ]), { runId: 'r1', targetVersion: 'v1.11.10' });
    expect(r).toMatchObject({ outcome: 'rolled-back', errorCode: 'VERIFY_TIMEOUT', message: 'healthz never answered', journalTail: ['F0000 unknown flag'], kubeletDowntimeMs: undefined });
  });

  it('calls an empty stream a failure', async () => {
    expect(await upgradeNode('w1', agentOf([]), { runId: 'r1' })).toMatchObject({ outcome: 'failed', message: 'the agent sent no events' });
  });
});
