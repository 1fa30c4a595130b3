/**
 * After the automatic rollback of a controller whose Release failed: the pure planner's order
 * (rollback, restart, then hold/swap/release again with the next attempt), and `kip rollback` /
 * `kip resume` in a control-plane run: the note names the controller kip rolled back, and the
 * kubelets `kip rollback` rolled back are upgraded again by resume (the step's finished
 * "kubelets" action is reopened).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../coordinator/cli.ts';
import { controlPlaneActions, type JournalEntry } from '../../coordinator/rollout/control-plane-plan.ts';
import { nextWithRecovery } from '../../coordinator/rollout/control-plane-recovery.ts';
import type { ControlPlaneStepSpec } from '../../coordinator/rollout/spec.ts';
import { openSqliteStore } from '../../coordinator/store/sqlite.ts';
import { recordingIo } from './cli-fakes.ts';
import { makeCpWorld, read } from './cp-fakes.ts';
import { cpPorts, upgradeArgs } from './cp-setup.ts';

const step: ControlPlaneStepSpec = {
  index: 0, from: 'v1.12.10', to: 'v1.13.12', etcdNode: 'cp1', kubeletSteps: [0], touchTolerations: false,
  nodes: [{ name: 'cp1', components: ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'], apiserverUrl: '' }],
};
const actions = controlPlaneActions(step, []);

/** A journal where every action up to and including `upTo` finished ok, then `extra` entries. */
function journalUpTo(upTo: string, extra: [string, JournalEntry['outcome'], unknown][] = []): Map<string, JournalEntry[]> {
  const j = new Map<string, JournalEntry[]>();
  let id = 0;
  const add = (key: string, outcome: JournalEntry['outcome'], result: unknown): void => {
    j.set(key, [...(j.get(key) ?? []), { id: ++id, outcome, payload: '{}', result: JSON.stringify(result) }]);
  };
  for (const a of actions) {
    add(a.key, 'ok', a.kind === 'swap' ? { agentRunId: `r.cp0.cp1.${a.component}.a1` } : {});
    if (a.key === upTo) break;
  }
  for (const [k, o, r] of extra) add(k, o, r);
  return j;
}

const unhealthy = { reason: 'x', code: 'COMPONENT_UNHEALTHY', message: 'healthz never answered', agentRunId: 'r.cp0.cp1.kube-scheduler.a1' };

describe('nextWithRecovery (pure)', () => {
  it('a release failed COMPONENT_UNHEALTHY: the rollback of that swap run comes next, then the restart of the old one', () => {
    const j = journalUpTo('release:cp1:kube-controller-manager', [['release:cp1:kube-scheduler', 'error', unhealthy]]);
    expect(nextWithRecovery(actions, j)).toMatchObject({ done: false, attempt: 1, open: undefined, action: { kind: 'rollback', node: 'cp1', component: 'kube-scheduler', agentRunId: 'r.cp0.cp1.kube-scheduler.a1' } });
    j.set('rollback:cp1:kube-scheduler', [{ id: 100, outcome: null, payload: '{}', result: '' }]);
    expect(nextWithRecovery(actions, j)).toMatchObject({ attempt: 1, open: { id: 100 }, action: { kind: 'rollback' } });
    j.set('rollback:cp1:kube-scheduler', [{ id: 100, outcome: 'ok', payload: '{}', result: '{}' }]);
    expect(nextWithRecovery(actions, j)).toMatchObject({ attempt: 1, action: { kind: 'restart', component: 'kube-scheduler' } });
  });

  it('a release that failed otherwise (agent away) is simply tried again: no rollback', () => {
    const j = journalUpTo('release:cp1:kube-controller-manager', [['release:cp1:kube-scheduler', 'error', { reason: 'UNAVAILABLE' }]]);
    expect(nextWithRecovery(actions, j)).toMatchObject({ attempt: 2, action: { kind: 'release', component: 'kube-scheduler' } });
  });

  it('a finished recovery: hold, swap (attempt 2: a new agent run id) and release of that component again; the others stay done', () => {
    const j = journalUpTo('release:cp1:kube-controller-manager', [
      ['release:cp1:kube-scheduler', 'error', unhealthy], ['rollback:cp1:kube-scheduler', 'ok', {}], ['restart:cp1:kube-scheduler', 'ok', {}],
    ]);
    expect(nextWithRecovery(actions, j)).toMatchObject({ attempt: 2, action: { kind: 'hold', component: 'kube-scheduler' } });
    j.set('hold:cp1:kube-scheduler', [...j.get('hold:cp1:kube-scheduler')!, { id: 200, outcome: 'ok', payload: '{}', result: '{}' }]);
    expect(nextWithRecovery(actions, j)).toMatchObject({ attempt: 2, action: { kind: 'swap', component: 'kube-scheduler' } });
    j.set('swap:cp1:kube-scheduler', [...j.get('swap:cp1:kube-scheduler')!, { id: 201, outcome: 'ok', payload: '{}', result: '{}' }]);
    expect(nextWithRecovery(actions, j)).toMatchObject({ attempt: 2, action: { kind: 'release', component: 'kube-scheduler' } });
    j.set('release:cp1:kube-scheduler', [...j.get('release:cp1:kube-scheduler')!, { id: 202, outcome: 'ok', payload: '{}', result: '{}' }]);
    expect(nextWithRecovery(actions, j)).toMatchObject({ action: { kind: 'post-checks' } });
  });
});

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kip-cp-recovery-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('kip rollback and kip resume after an automatic rollback', () => {
  it('rollback names the controller kip rolled back and rolls back the step\'s kubelets; resume upgrades both again', async () => {
    const world = makeCpWorld(join(dir, 'world.json'), { extra: { releaseFails: ['cp1/kube-scheduler'] } });
    const resume = ['resume', '--state-dir', dir, '--kubeconfig', '/dev/null'];
    expect(await main(upgradeArgs(dir), recordingIo(), cpPorts(world, dir))).toBe(1);
    const dry = recordingIo();
    expect(await main(['rollback', '--state-dir', dir, '--kubeconfig', '/dev/null', '--dry-run'], dry, cpPorts(world, dir)), dry.err).toBe(0);
    expect(dry.out).toMatch(/kube-scheduler on cp1 was rolled back by kip after its Release failed \(agent run \S+\.cp0\.cp1\.kube-scheduler\.a1; it runs v1\.12\.10\); kip resume upgrades it again/);
    const rb = recordingIo();
    expect(await main(['rollback', '--state-dir', dir, '--kubeconfig', '/dev/null'], rb, cpPorts(world, dir)), rb.err + rb.out).toBe(0);
    expect(read(world, Date.now()).nodes.map((n) => n.kubelet)).toEqual(['v1.12.10', 'v1.12.10', 'v1.12.10']);

    world.update((x) => { x.releaseFails = []; });
    const fixed = recordingIo();
    expect(await main(resume, fixed, cpPorts(world, dir)), fixed.err + fixed.out).toBe(0);
    const w = read(world, Date.now());
    // without the reopened kubelets action, resume went on with every kubelet still on v1.12.10
    expect(w.nodes.map((n) => n.kubelet)).toEqual(['v1.13.12', 'v1.13.12', 'v1.13.12']);
    expect(w.nodes.every((n) => Object.values(n.components).every((c) => c.version === 'v1.13.12' && !c.held && c.running))).toBe(true);
    const store = openSqliteStore(join(dir, 'runs.db'));
    const run = store.latestRun()!;
    expect(run.phase).toBe('succeeded');
    expect(store.openActions(run.id)).toEqual([]);
    store.close();
  }, 90_000);
});
