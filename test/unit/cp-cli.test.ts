/** kip rollback, bad input of kip upgrade with control-plane steps, and the Watch gates' resumption, over the fake fleet. */
import Database from 'better-sqlite3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../lib/clock.ts';
import { silentLogger } from '../../lib/logger.ts';
import { main } from '../../coordinator/cli.ts';
import { WatchGates } from '../../coordinator/rollout/watch-gate.ts';
import { openSqliteStore } from '../../coordinator/store/sqlite.ts';
import { recordingIo } from './cli-fakes.ts';
import { cpAgent, makeCpWorld, type CpWorldFile } from './cp-fakes.ts';
import { cpPorts, upgradeArgs } from './cp-setup.ts';

let dir = '';
let world: CpWorldFile;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kip-cp-cli-'));
  world = makeCpWorld(join(dir, 'world.json'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});
const common = ['--state-dir', '', '--kubeconfig', '/dev/null'];
const opts = (): string[] => common.map((a) => (a === '' ? dir : a));

describe('kip rollback', () => {
  it('rolls back the nodes of the current step by their recorded run ids; says the control plane is not downgraded and where the etcd snapshot is', async () => {
    world.update((w) => { w.upgradeFails = ['w2/kubelet']; });
    const up = recordingIo();
    expect(await main(upgradeArgs(dir), up, cpPorts(world, dir))).toBe(1);
    expect(up.out).toMatch(/w2.*rolled-back: VERIFY_TIMEOUT/);

    const dry = recordingIo();
    expect(await main(['rollback', ...opts(), '--dry-run'], dry, cpPorts(world, dir))).toBe(0);
    expect(dry.out).toMatch(/would roll back, in run kip-\S+, step 1:/);
    expect(dry.out).toMatch(/cp1: kubelet \(agent run \S+\.s0\.cp1\.a1\) back from v1\.13\.12/);
    expect(dry.out).toMatch(/w1: kube-proxy \(agent run \S+\.s0\.w1\.a1\.kube-proxy\), then kubelet \(agent run \S+\.s0\.w1\.a1\)/);
    expect(dry.out).toMatch(/the control plane is not downgraded .* the etcd snapshot taken before it moved is \S+\/snapshots\/\S+\.db \(revision 42/);
    expect(world.read().log.some((l) => l.startsWith('rollback'))).toBe(false);

    expect(await main(['rollback', ...opts(), '--nodes', 'nope'], recordingIo(), cpPorts(world, dir))).toBe(2);

    const rb = recordingIo();
    expect(await main(['rollback', ...opts(), '--nodes', 'w1'], rb, cpPorts(world, dir)), rb.err).toBe(0);
    expect(rb.out).toContain('w1: kube-proxy rolled back');
    expect(rb.out).toContain('w1: kubelet rolled back');
    expect(rb.out).toContain('the control plane is not downgraded');
    expect(world.read().log.filter((l) => l.startsWith('rollback'))).toEqual([expect.stringMatching(/^rollback w1 kube-proxy /), expect.stringMatching(/^rollback w1 kubelet /)]);
    const store = openSqliteStore(join(dir, 'runs.db'));
    const run = store.latestRun()!;
    expect(run.phase).toBe('paused');
    expect(run.reason).toMatch(/kip rollback: w1 rolled back/);
    expect(store.nodes(run.id).find((n) => n.node === 'w1')?.phase).toBe('rolled-back');
    expect(store.actions(run.id).filter((a) => a.kind === 'rollback').map((a) => a.outcome)).toEqual(['ok', 'ok']);
    store.close();

    // resume upgrades w1 again (attempt 2) and retries w2; the control plane is not redone
    const res = recordingIo();
    expect(await main(['resume', ...opts()], res, cpPorts(world, dir)), res.err + res.out).toBe(0);
    const w = world.read();
    expect(w.executions.filter((e) => e.component === 'kube-apiserver')).toHaveLength(1);
    expect(w.executions.filter((e) => e.node === 'w1' && e.component === 'kubelet').map((e) => e.runId.replace(/^.*\.s0\./, ''))).toEqual(['w1.a1', 'w1.a2']);
  }, 60_000);
});

describe('kip rollback onto an upstream (unpatched) kubelet', () => {
  it('warns, per node, that the old kubelet restarts the containers whose hash label is not its own, naming them from the agent asked before the rollback', async () => {
    world.update((w) => { w.upgradeFails = ['w2/kubelet']; });
    expect(await main(upgradeArgs(dir), recordingIo(), cpPorts(world, dir))).toBe(1);
    world.update((w) => {
      w.unpatched = ['w1', 'cp1'];
      w.stale = { w1: ['default/web-0/app', 'default/web-1/app'], cp1: [] };
    });
    const rb = recordingIo();
    expect(await main(['rollback', ...opts()], rb, cpPorts(world, dir)), rb.err).toBe(0);
    expect(rb.out).toMatch(/w1: WARNING: the kubelet now running \(v1\.12\.\d+\) is upstream, not patched: it reads no skip file, and restarts the 2 containers whose hash label is not its own \(the v1\.13\.12 kubelet created or recreated them\): default\/web-0\/app, default\/web-1\/app/);
    // cp1 is upstream too, but none of its containers is stale at the old version; w2 is patched
    expect(rb.out).not.toMatch(/(cp1|w2): WARNING/);
  }, 60_000);

  it('says it could not tell which containers when the agent has no HashReport', async () => {
    world.update((w) => { w.upgradeFails = ['w2/kubelet']; });
    expect(await main(upgradeArgs(dir), recordingIo(), cpPorts(world, dir))).toBe(1);
    world.update((w) => { w.unpatched = ['w1']; });
    const rb = recordingIo();
    expect(await main(['rollback', ...opts(), '--nodes', 'w1'], rb, cpPorts(world, dir)), rb.err).toBe(0);
    expect(rb.out).toMatch(/w1: WARNING: .* upstream, not patched: .*kip could not ask the agent which/);
  }, 60_000);
});

describe('kip upgrade with control-plane steps: bad input changes nothing (exit 2), a held lock exits 3', () => {
  const nothingChanged = (): void => {
    expect(world.read().log).toEqual([]);
    expect(world.read().executions).toEqual([]);
  };
  it.each([
    [['--hook', 'before=echo hi'], /--hook "before=echo hi" does not parse: write --hook pre=COMMAND/],
    [['--hook', 'pre='], /does not parse/],
    [['--max-concurrency', '0'], /--max-concurrency must be an integer of at least 1/],
    [['--canary-nodes', 'w9'], /--canary-nodes: no Node named w9/],
    [['--etcd-node', 'etcd9'], /--etcd-node etcd9: no agent known by that name/],
  ])('%j', async (args, message) => {
    const io = recordingIo();
    expect(await main(upgradeArgs(dir, args), io, cpPorts(world, dir))).toBe(2);
    expect(io.err).toMatch(message);
    nothingChanged();
  });

  it('a control-plane node whose agent does not answer', async () => {
    const ports = cpPorts(world, dir);
    const io = recordingIo();
    const refused = { ...cpAgent(world, 'cp1', Date.now, (ms) => systemClock.sleep(ms)), getNode: async () => { throw new Error('connect ECONNREFUSED 127.0.0.1:7443'); } };
    expect(await main(upgradeArgs(dir), io, { ...ports, agent: (e) => (e.node === 'cp1' ? refused : ports.agent(e, { ca: Buffer.from(''), cert: Buffer.from(''), key: Buffer.from('') })) })).toBe(2);
    expect(io.err).toMatch(/control-plane agent not answering: cp1 \(connect ECONNREFUSED/);
    nothingChanged();
  });

  it('a store from a newer kip', async () => {
    const db = new Database(join(dir, 'runs.db'));
    db.pragma('user_version = 99');
    db.close();
    const io = recordingIo();
    expect(await main(upgradeArgs(dir), io, cpPorts(world, dir))).toBe(2);
    expect(io.err).toMatch(/schema version 99, written by a newer kip/);
    nothingChanged();
  });

  it('the lock held by another run: exit 3', async () => {
    const ports = cpPorts(world, dir);
    const cluster = await ports.cluster();
    await cluster.lock.acquire('other-host/9', 'kip-other', 600_000, Date.now());
    const io = recordingIo();
    expect(await main(upgradeArgs(dir), io, ports)).toBe(3);
    nothingChanged();
  });

  it('--dry-run lists the control-plane actions and changes nothing', async () => {
    const io = recordingIo();
    expect(await main(upgradeArgs(dir, ['--dry-run', '--hook', 'pre=true']), io, cpPorts(world, dir))).toBe(0);
    expect(io.out).toContain('step 1: control plane v1.12.10 -> v1.13.12:');
    expect(io.out).toMatch(/etcd snapshot through cp1\n\s+pre hook 1 \(true\)\n\s+hold kube-controller-manager on cp1/);
    expect(io.out).toMatch(/kubelets -> v1.13.12, in this order: cp1, w1, w2\n\s+not-ready\/unreachable tolerations/);
    nothingChanged();
  });
});

describe('Watch gates: resumption', () => {
  it('resume from the stored sequence; after WATCH_SEQUENCE_EXPIRED re-list from the oldest held and still trip', async () => {
    const store = openSqliteStore(join(dir, 'runs.db'));
    store.createRun({ id: 'r1', cluster: 'x', target: 'v1', phase: 'running', reason: '', spec: '{}', createdAt: 0 });
    store.setWatchCursor('r1', 'w1', 2);
    world.update((w) => {
      w.watchOldest = 5;
      w.watch.push({ node: 'w1', sequence: 6, kind: 'SANDBOX_RECREATED', observedAtUnixMs: 0, podUid: 'u-web', podNamespace: 'default', podName: 'web', containerName: '', beforeId: '', afterId: '', beforeCreatedAtUnixNs: '', afterCreatedAtUnixNs: '', restarts: 0, exitCode: 0, reason: '', detail: '' });
    });
    const gates = new WatchGates({ runId: 'r1', store, clock: systemClock, logger: silentLogger(), agents: new Map([['w1', cpAgent(world, 'w1', Date.now, (ms) => systemClock.sleep(ms))]]) });
    const off = gates.activate();
    const tripped = new Promise<void>((resolve) => gates.onTrip(resolve));
    gates.start();
    await tripped;
    expect(gates.tripped()).toMatch(/pod sandbox recreated .* on w1: default\/web \[watch seq 6\]/);
    expect(store.events('r1').map((e) => e.kind)).toEqual(['watch-expired', 'gate']);
    expect(store.events('r1')[0]!.message).toMatch(/watch from 2 expired .*watching from 5/);
    await gates.stop();
    off();
    expect(store.watchCursor('r1', 'w1')).toBe(6);
    store.close();
  });

  it('an event while nothing is in flight moves the cursor and does not trip', async () => {
    const store = openSqliteStore(join(dir, 'runs.db'));
    store.createRun({ id: 'r1', cluster: 'x', target: 'v1', phase: 'running', reason: '', spec: '{}', createdAt: 0 });
    world.update((w) => {
      w.watch.push({ node: 'w1', sequence: 3, kind: 'CONTAINER_RESTARTED', observedAtUnixMs: 0, podUid: 'u', podNamespace: 'default', podName: 'web', containerName: 'c', beforeId: '', afterId: '', beforeCreatedAtUnixNs: '', afterCreatedAtUnixNs: '', restarts: 1, exitCode: 0, reason: '', detail: '' });
    });
    const gates = new WatchGates({ runId: 'r1', store, clock: systemClock, logger: silentLogger(), agents: new Map([['w1', cpAgent(world, 'w1', Date.now, (ms) => systemClock.sleep(ms))]]) });
    gates.start();
    for (let i = 0; i < 400 && store.watchCursor('r1', 'w1') < 3; i++) await systemClock.sleep(5);
    expect(store.watchCursor('r1', 'w1')).toBe(3);
    expect(gates.tripped()).toBeUndefined();
    await gates.stop();
    store.close();
  });
});
