/**
 * Kill points of the control-plane step: the coordinator killed with kill -9 after each progress
 * line (a real process), and in process between "journaled" and "acted" and after acting: resume
 * redoes nothing finished, continues the open action with the run id it recorded, and never starts
 * a second agent run of a component on a node.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../coordinator/cli.ts';
import type { CliPorts } from '../../coordinator/ports.ts';
import { openSqliteStore } from '../../coordinator/store/sqlite.ts';
import type { RunStore } from '../../coordinator/store/store.ts';
import { recordingIo } from './cli-fakes.ts';
import { CpWorldFile, makeCpWorld, read } from './cp-fakes.ts';
import { cpPorts, upgradeArgs } from './cp-setup.ts';

const child = join(import.meta.dirname, 'cp-child.ts');
const repo = join(import.meta.dirname, '../..');
const node = (args: string[]) => execa(process.execPath, ['--import', 'tsx', child, ...args], { cwd: repo, reject: false, timeout: 60_000 });
const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

function expectEachComponentOnce(world: CpWorldFile): void {
  const runs = read(world, Date.now()).executions.map((e) => `${e.node}/${e.component}`).sort();
  expect(runs).toEqual(['cp1/kube-apiserver', 'cp1/kube-controller-manager', 'cp1/kube-scheduler', 'cp1/kubelet', 'w1/kube-proxy', 'w1/kubelet', 'w2/kube-proxy', 'w2/kubelet']);
  const w = read(world, Date.now());
  expect(w.nodes.every((n) => Object.values(n.components).every((c) => c.version === 'v1.13.12' && !c.held && c.running))).toBe(true);
}

function expectJournalClosed(dir: string): void {
  const store = openSqliteStore(join(dir, 'runs.db'));
  const run = store.latestRun()!;
  expect(run.phase).toBe('succeeded');
  expect(store.openActions(run.id)).toEqual([]);
  store.close();
}

describe('control-plane step: coordinator killed with kill -9', () => {
  it.each([1, 3, 6, 10, 14])('after progress line %i: resume finishes with every component upgraded exactly once', async (killAfter) => {
    const dir = await mkdtemp(join(tmpdir(), 'kip-cp-kill-'));
    dirs.push(dir);
    const p = node([dir, 'create']);
    let buf = '';
    let lines = 0;
    p.stdout!.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      const parts = buf.split('\n');
      buf = parts.pop() ?? '';
      for (const _ of parts) if (++lines === killAfter) p.kill('SIGKILL');
    });
    const first = await p;
    expect(first.signal, first.stdout).toBe('SIGKILL');
    const resumed = await node([dir, 'resume']);
    expect(resumed.stdout, resumed.stderr).toContain('EXIT 0');
    const world = new CpWorldFile(join(dir, 'world.json'));
    expectEachComponentOnce(world);
    // The snapshot is fetched once it was noted; only a kill between EtcdSnapshot and its note takes a second one.
    expect(world.read().snapshots.length).toBeLessThanOrEqual(2);
    expect(world.read().log.filter((l) => l.startsWith('touch'))).toEqual(expect.arrayContaining([expect.stringMatching(/running-cm=none$/)]));
    expect(world.read().log.filter((l) => l.startsWith('touch')).every((l) => l.endsWith('running-cm=none'))).toBe(true);
    expectJournalClosed(dir);
  }, 120_000);
});

class Crash extends Error {}

/** A store that "dies" (every later write throws) right after `when` matches a write. */
function crashingStore(inner: RunStore, when: (op: 'begin' | 'finish', kind: string) => boolean): RunStore & { crashed: boolean } {
  const s = {
    ...inner,
    crashed: false,
    beginAction: (a: Parameters<RunStore['beginAction']>[0]) => {
      if (s.crashed) throw new Crash('dead');
      const id = inner.beginAction(a);
      if (when('begin', a.kind)) {
        s.crashed = true;
        throw new Crash(`killed after journaling ${a.kind}`);
      }
      return id;
    },
    finishAction: (id: number, outcome: 'ok' | 'error', result: string, at: number) => {
      if (s.crashed) throw new Crash('dead');
      const kind = inner.actions(inner.latestRun()!.id).find((x) => x.id === id)?.kind ?? '';
      if (when('finish', kind)) {
        s.crashed = true;
        throw new Crash(`killed after ${kind} acted, before its outcome`);
      }
      inner.finishAction(id, outcome, result, at);
    },
    putNode: (n: Parameters<RunStore['putNode']>[0]) => {
      if (s.crashed) throw new Crash('dead');
      inner.putNode(n);
    },
    noteAction: (id: number, r: string) => {
      if (s.crashed) throw new Crash('dead');
      inner.noteAction(id, r);
    },
    batch: <T>(fn: () => T): T => {
      if (s.crashed) throw new Crash('dead');
      return fn();
    },
  };
  return s;
}

describe('control-plane step: killed between journaled and acted, and after acting', () => {
  it.each([
    ['begin', 'cp:0:etcd-snapshot'],
    ['finish', 'cp:0:etcd-snapshot'],
    ['begin', 'cp:0:hold:cp1:kube-scheduler'],
    ['finish', 'cp:0:hold:cp1:kube-scheduler'],
    ['begin', 'cp:0:apiserver:cp1'],
    ['finish', 'cp:0:apiserver:cp1'],
    ['begin', 'cp:0:swap:cp1:kube-controller-manager'],
    ['finish', 'cp:0:swap:cp1:kube-controller-manager'],
    ['finish', 'cp:0:tolerations'],
    ['begin', 'cp:0:release:cp1:kube-controller-manager'],
    ['finish', 'cp:0:release:cp1:kube-controller-manager'],
  ] as const)('%s %s: resume continues, nothing finished is redone, no second agent run', async (op, kind) => {
    const dir = await mkdtemp(join(tmpdir(), 'kip-cp-crash-'));
    dirs.push(dir);
    const world = makeCpWorld(join(dir, 'world.json'));
    const real = openSqliteStore(join(dir, 'runs.db'));
    const crashing = crashingStore(real, (o, k) => o === op && k === kind);
    const ports: CliPorts = { ...cpPorts(world, dir), openStore: () => crashing };
    await expect(main(upgradeArgs(dir), recordingIo(), ports)).rejects.toThrow(Crash);
    real.close();
    const before = world.read();
    const resumed = recordingIo();
    expect(await main(['resume', '--state-dir', dir, '--kubeconfig', '/dev/null'], resumed, cpPorts(world, dir)), resumed.err + resumed.out).toBe(0);
    expectEachComponentOnce(world);
    expectJournalClosed(dir);
    const after = world.read();
    // a snapshot noted before the crash is fetched, not taken again
    expect(after.snapshots).toHaveLength(1);
    if (kind.includes('apiserver') || kind.includes('swap')) {
      const comp = kind.includes('apiserver') ? 'kube-apiserver' : 'kube-controller-manager';
      // the same agent run id (attempt 1) continued
      expect(after.executions.filter((e) => e.component === comp).map((e) => e.runId.replace(/^.*\.cp0\./, ''))).toEqual([`cp1.${comp}.a1`]);
    }
    // finished actions not redone: every hold/release line from before stays the only one unless the crash hit it
    const count = (l: string[], p: string) => l.filter((x) => x.startsWith(p)).length;
    expect(count(after.log, 'hold cp1 kube-controller-manager')).toBe(count(before.log, 'hold cp1 kube-controller-manager') || 1);
  }, 60_000);
});

describe('automatic rollback of a controller whose Release fails: killed between each action', () => {
  it.each([
    ['begin', 'cp:0:release:cp1:kube-scheduler'],
    ['finish', 'cp:0:release:cp1:kube-scheduler'],
    ['begin', 'cp:0:rollback:cp1:kube-scheduler'],
    ['finish', 'cp:0:rollback:cp1:kube-scheduler'],
    ['begin', 'cp:0:restart:cp1:kube-scheduler'],
    ['finish', 'cp:0:restart:cp1:kube-scheduler'],
  ] as const)('%s %s: resume finishes the rollback and pauses; after the fix resume upgrades it with one new agent run', async (op, kind) => {
    const dir = await mkdtemp(join(tmpdir(), 'kip-cp-recover-'));
    dirs.push(dir);
    const world = makeCpWorld(join(dir, 'world.json'), { extra: { releaseFails: ['cp1/kube-scheduler'] } });
    const real = openSqliteStore(join(dir, 'runs.db'));
    const crashing = crashingStore(real, (o, k) => o === op && k === kind);
    const ports: CliPorts = { ...cpPorts(world, dir), openStore: () => crashing };
    await expect(main(upgradeArgs(dir), recordingIo(), ports)).rejects.toThrow(Crash);
    real.close();
    const resumed = recordingIo();
    expect(await main(['resume', '--state-dir', dir, '--kubeconfig', '/dev/null'], resumed, cpPorts(world, dir)), resumed.err).toBe(1);
    expect(resumed.out).toMatch(/kube-scheduler v1\.13\.12 on cp1 did not run healthy after Release \(COMPONENT_UNHEALTHY: .*\); kip rolled it back through the agent \(Rollback of agent run \S+\.cp1\.kube-scheduler\.a1\): it is released and runs v1\.12\.10 again/);
    const w = read(world, Date.now());
    expect(w.nodes[0]!.components['kube-scheduler']).toEqual({ version: 'v1.12.10', held: false, running: true });
    // only the first swap was rolled back (a repeated Rollback of it is the same run)
    expect(new Set(w.log.filter((l) => l.startsWith('rollback')).map((l) => l.replace(/^.*\.cp0\./, '')))).toEqual(new Set(['cp1.kube-scheduler.a1']));
    const store = openSqliteStore(join(dir, 'runs.db'));
    const run = store.latestRun()!;
    expect(run.phase).toBe('paused');
    expect(store.openActions(run.id)).toEqual([]);
    store.close();

    world.update((x) => { x.releaseFails = []; });
    const fixed = recordingIo();
    expect(await main(['resume', '--state-dir', dir, '--kubeconfig', '/dev/null'], fixed, cpPorts(world, dir)), fixed.err + fixed.out).toBe(0);
    const done = read(world, Date.now());
    expect(done.nodes.every((n) => Object.values(n.components).every((c) => c.version === 'v1.13.12' && !c.held && c.running))).toBe(true);
    expect(done.executions.filter((e) => e.component === 'kube-scheduler').map((e) => e.runId.replace(/^.*\.cp0\./, ''))).toEqual(['cp1.kube-scheduler.a1', 'cp1.kube-scheduler.a2']);
    expect(done.executions.filter((e) => e.component !== 'kube-scheduler')).toHaveLength(7);
    expectJournalClosed(dir);
  }, 60_000);
});
