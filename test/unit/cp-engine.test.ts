/**
 * The control-plane steps of kip upgrade over a fake fleet and cluster (cp-fakes.ts, the agent
 * contract of issue 9): the order a..g, the etcd snapshot fetched and verified, the
 * TaintBasedEvictions toleration touch (only before the first 1.13+ controller-manager starts),
 * pauses on a failing pre hook, on a Watch event, on the admission plugin being off, and the
 * apiserver going away being waited out.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../coordinator/cli.ts';
import { etcdSnapshotsOf } from '../../coordinator/rollout/control-plane.ts';
import { openSqliteStore } from '../../coordinator/store/sqlite.ts';
import { recordingIo } from './cli-fakes.ts';
import { makeCpWorld, read, type CpWorldFile } from './cp-fakes.ts';
import { cpPorts, upgradeArgs } from './cp-setup.ts';

let dir = '';
let world: CpWorldFile;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kip-cp-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const actionLog = (w: CpWorldFile): string[] => w.read().log.filter((l) => !l.startsWith('probe'));
const store = () => openSqliteStore(join(dir, 'runs.db'));

describe('kip upgrade: control-plane steps', () => {
  it('takes a..g in order for 1.12 -> 1.13: snapshot, pre hook, hold, apiserver, swap held, kubelets and kube-proxy, touch, release, post hook, post-checks', async () => {
    world = makeCpWorld(join(dir, 'world.json'));
    const marker = join(dir, 'hooks.log');
    const io = recordingIo();
    const code = await main(upgradeArgs(dir, ['--hook', `pre=echo pre $KIP_FROM $KIP_TO >> ${marker}`, '--hook', `post=echo post >> ${marker}`]), io, cpPorts(world, dir));
    expect(code, io.err + io.out).toBe(0);
    expect(io.out).toContain('the control plane and every kubelet run v1.13.12');
    expect(readFileSync(marker, 'utf8')).toBe('pre v1.12.10 v1.13.12\npost\n');
    const log = actionLog(world);
    const at = (line: string): number => {
      const i = log.findIndex((l) => l.startsWith(line));
      expect(i, `${line} in ${log.join('\n')}`).toBeGreaterThanOrEqual(0);
      return i;
    };
    // a. etcd snapshot first
    expect(log[0]).toBe('etcd-snapshot cp1 snap-1');
    // b. hold both controllers, c. the apiserver, d. swap while held
    expect(at('hold cp1 kube-controller-manager')).toBeLessThan(at('upgrade cp1 kube-apiserver'));
    expect(at('hold cp1 kube-scheduler')).toBeLessThan(at('upgrade cp1 kube-apiserver'));
    expect(at('upgrade cp1 kube-apiserver')).toBeLessThan(at('upgrade cp1 kube-controller-manager v1.13.12 held'));
    expect(at('upgrade cp1 kube-controller-manager v1.13.12 held')).toBeLessThan(at('upgrade cp1 kube-scheduler v1.13.12 held'));
    // e. kubelets (cp1 too) and kube-proxy after each worker's kubelet
    for (const n of ['cp1', 'w1', 'w2']) expect(at(`upgrade ${n} kubelet`)).toBeGreaterThan(at('upgrade cp1 kube-scheduler'));
    for (const n of ['w1', 'w2']) expect(at(`upgrade ${n} kube-proxy`)).toBeGreaterThan(at(`upgrade ${n} kubelet`));
    // f. the touch after every kubelet, before the controllers start; only the pod lacking a toleration
    const touches = log.filter((l) => l.startsWith('touch'));
    expect(touches).toEqual(['touch default/web running-cm=none', 'touch default/db running-cm=none']);
    expect(at('touch default/web')).toBeGreaterThan(Math.max(at('upgrade w1 kube-proxy'), at('upgrade w2 kube-proxy')));
    // g. release with the new version, after the touch
    expect(at('release cp1 kube-controller-manager v1.13.12')).toBeGreaterThan(at('touch default/db'));
    expect(at('release cp1 kube-scheduler v1.13.12')).toBeGreaterThan(at('touch default/db'));
    const w = read(world, Date.now());
    expect(w.nodes.every((n) => Object.values(n.components).every((c) => c.version === 'v1.13.12' && !c.held && c.running))).toBe(true);
    // each component upgraded exactly once
    const runs = w.executions.map((e) => `${e.node}/${e.component}`).sort();
    expect(runs).toEqual(['cp1/kube-apiserver', 'cp1/kube-controller-manager', 'cp1/kube-scheduler', 'cp1/kubelet', 'w1/kube-proxy', 'w1/kubelet', 'w2/kube-proxy', 'w2/kubelet']);
    // the snapshot was fetched and verified, and recorded in the run
    const s = store();
    const run = s.latestRun()!;
    const snaps = etcdSnapshotsOf(run.id, { store: s });
    expect(snaps).toHaveLength(1);
    expect(snaps[0]).toMatchObject({ revision: 42, node: 'cp1', id: 'snap-1' });
    expect(existsSync(snaps[0]!.path)).toBe(true);
    expect(createHash('sha256').update(readFileSync(snaps[0]!.path)).digest('hex')).toBe(snaps[0]!.sha256);
    expect(readFileSync(snaps[0]!.path).length).toBe(snaps[0]!.sizeBytes);
    expect(s.openActions(run.id)).toEqual([]);
    s.close();
  }, 60_000);

  it('does not touch pods in a 1.13 -> 1.14 step (TaintBasedEvictions was on already)', async () => {
    world = makeCpWorld(join(dir, 'world.json'), { from: 'v1.13.12' });
    const io = recordingIo();
    const args = upgradeArgs(dir).map((a) => (a === 'v1.13.12' ? 'v1.14.10' : a));
    expect(await main(args, io, cpPorts(world, dir)), io.err).toBe(0);
    expect(actionLog(world).filter((l) => l.startsWith('touch'))).toEqual([]);
    expect(actionLog(world)).toContain('release cp1 kube-controller-manager v1.14.10');
  }, 60_000);

  it('with DefaultTolerationSeconds off: says so and pauses with the controllers held; resume after it is on finishes', async () => {
    world = makeCpWorld(join(dir, 'world.json'), { extra: { admission: false } });
    const io = recordingIo();
    expect(await main(upgradeArgs(dir), io, cpPorts(world, dir))).toBe(1);
    expect(io.out).toMatch(/default\/web, default\/db\): the DefaultTolerationSeconds admission plugin is off/);
    const w = read(world, Date.now());
    const cm = w.nodes[0]!.components['kube-controller-manager']!;
    expect(cm).toMatchObject({ held: true, running: false, version: 'v1.13.12' });
    expect(actionLog(world).some((l) => l.startsWith('release'))).toBe(false);
    world.update((x) => { x.admission = true; });
    const resumed = recordingIo();
    expect(await main(['resume', '--state-dir', dir, '--kubeconfig', '/dev/null'], resumed, cpPorts(world, dir)), resumed.err).toBe(0);
    expect(read(world, Date.now()).executions).toHaveLength(8);
  }, 60_000);

  it('a failing pre hook pauses before anything is held; resume runs it again', async () => {
    world = makeCpWorld(join(dir, 'world.json'));
    const flag = join(dir, 'ok');
    const io = recordingIo();
    expect(await main(upgradeArgs(dir, ['--hook', `pre=test -f ${flag} || { echo alertmanager unreachable >&2; exit 3; }`]), io, cpPorts(world, dir))).toBe(1);
    expect(io.out).toMatch(/pre hook 1 .*exited 3: alertmanager unreachable/);
    expect(actionLog(world)).toEqual(['etcd-snapshot cp1 snap-1']);
    await import('node:fs/promises').then((f) => f.writeFile(flag, ''));
    const resumed = recordingIo();
    expect(await main(['resume', '--state-dir', dir, '--kubeconfig', '/dev/null'], resumed, cpPorts(world, dir)), resumed.err).toBe(0);
    // the snapshot is not taken again
    expect(actionLog(world).filter((l) => l.startsWith('etcd-snapshot'))).toHaveLength(1);
  }, 60_000);

  it('waits out the apiserver going away after its swap (retry with backoff), then goes on', async () => {
    world = makeCpWorld(join(dir, 'world.json'), { extra: { apiserverDownMs: 400 } });
    const io = recordingIo();
    expect(await main(upgradeArgs(dir), io, cpPorts(world, dir)), io.err + io.out).toBe(0);
    const log = world.read().log;
    const swapped = log.findIndex((l) => l.startsWith('upgrade cp1 kube-apiserver'));
    // refused while it was away, then /healthz (1.13 has no /readyz) answered with the new version
    expect(log.slice(swapped).filter((l) => l.startsWith('probe'))).toEqual(expect.arrayContaining(['probe-refused', 'probe /healthz']));
    expect(log.indexOf('probe-refused', swapped)).toBeLessThan(log.indexOf('probe /healthz', swapped));
  }, 60_000);

  it('a Watch event (a container restarted on a worker) pauses the run with the reason while a node is in flight', async () => {
    world = makeCpWorld(join(dir, 'world.json'), { extra: { durationMs: 150 } });
    const ports = cpPorts(world, dir);
    const io = recordingIo();
    const running = main(upgradeArgs(dir), io, ports);
    // once the first kubelet is in flight, a container restarts on w2
    for (;;) {
      if (world.read().log.some((l) => / kubelet /.test(l))) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    world.update((w) => {
      w.watch.push({ node: 'w2', sequence: 7, kind: 'CONTAINER_RESTARTED', observedAtUnixMs: Date.now(), podUid: 'u-db', podNamespace: 'default', podName: 'db', containerName: 'main', beforeId: 'a', afterId: 'b', beforeCreatedAtUnixNs: '', afterCreatedAtUnixNs: '', restarts: 1, exitCode: 0, reason: '', detail: '' });
    });
    expect(await running).toBe(1);
    expect(io.out).toMatch(/paused: .*container restarted on w2: default\/db\/main \[watch seq 7\]/);
    const s = store();
    const run = s.latestRun()!;
    expect(s.watchCursor(run.id, 'w2')).toBe(7);
    expect(s.events(run.id).some((e) => e.kind === 'gate' && e.node === 'w2')).toBe(true);
    s.close();
    // resume: the event is behind the stored cursor, the run finishes, no node upgraded twice
    const resumed = recordingIo();
    expect(await main(['resume', '--state-dir', dir, '--kubeconfig', '/dev/null'], resumed, cpPorts(world, dir)), resumed.err + resumed.out).toBe(0);
    const runs = read(world, Date.now()).executions.map((e) => `${e.node}/${e.component}`);
    expect(new Set(runs).size).toBe(runs.length);
    expect(runs).toHaveLength(8);
  }, 60_000);

  it('a control-plane component pod restarting is expected and does not trip the gate', async () => {
    world = makeCpWorld(join(dir, 'world.json'));
    world.update((w) => {
      w.watch.push({ node: 'cp1', sequence: 1, kind: 'POD_GONE', observedAtUnixMs: 0, podUid: 'x', podNamespace: 'kube-system', podName: 'kube-controller-manager-cp1', containerName: '', beforeId: '', afterId: '', beforeCreatedAtUnixNs: '', afterCreatedAtUnixNs: '', restarts: 0, exitCode: 0, reason: '', detail: '' });
    });
    const io = recordingIo();
    expect(await main(upgradeArgs(dir), io, cpPorts(world, dir)), io.out).toBe(0);
  }, 60_000);

  it('a Release that fails health (COMPONENT_UNHEALTHY): rolled back through the agent, the old one released, the run paused naming it; resume swaps it again', async () => {
    world = makeCpWorld(join(dir, 'world.json'), { extra: { releaseFails: ['cp1/kube-scheduler'] } });
    const io = recordingIo();
    expect(await main(upgradeArgs(dir), io, cpPorts(world, dir))).toBe(1);
    // the reason names the component, the node and the agent's error
    expect(io.out).toMatch(/paused: control plane v1\.13\.12: kube-scheduler v1\.13\.12 on cp1 did not run healthy after Release \(COMPONENT_UNHEALTHY: kube-scheduler v1\.13\.12 did not run healthy after Release \(healthz never answered\)\); kip rolled it back through the agent \(Rollback of agent run \S+\.cp0\.cp1\.kube-scheduler\.a1\): it is released and runs v1\.12\.10 again/);
    const log = actionLog(world);
    const i = log.indexOf('release-failed cp1 kube-scheduler');
    expect(log.slice(i)).toEqual(['release-failed cp1 kube-scheduler', expect.stringMatching(/^rollback cp1 kube-scheduler \S+\.cp0\.cp1\.kube-scheduler\.a1$/), 'release cp1 kube-scheduler v1.12.10']);
    let w = read(world, Date.now());
    expect(w.nodes[0]!.components['kube-scheduler']).toEqual({ version: 'v1.12.10', held: false, running: true });
    expect(w.nodes[0]!.components['kube-controller-manager']).toEqual({ version: 'v1.13.12', held: false, running: true });
    const s = store();
    const run = s.latestRun()!;
    expect(run.phase).toBe('paused');
    expect(run.reason).toMatch(/kube-scheduler v1\.13\.12 on cp1 did not run healthy/);
    expect(s.openActions(run.id)).toEqual([]);
    // journaled before and after: the failed release, the rollback, the release of the old one
    const kinds = s.actions(run.id).map((a) => `${a.kind}=${a.outcome}`);
    expect(kinds.slice(kinds.indexOf('cp:0:release:cp1:kube-scheduler=error'))).toEqual(['cp:0:release:cp1:kube-scheduler=error', 'cp:0:rollback:cp1:kube-scheduler=ok', 'cp:0:restart:cp1:kube-scheduler=ok']);
    s.close();

    // resume before the fix: held, swapped with a new agent run, released, unhealthy again, rolled back again
    const again = recordingIo();
    expect(await main(['resume', '--state-dir', dir, '--kubeconfig', '/dev/null'], again, cpPorts(world, dir))).toBe(1);
    expect(again.out).toMatch(/Rollback of agent run \S+\.cp0\.cp1\.kube-scheduler\.a2/);
    // the operator fixes it: resume holds, swaps (a3) and releases it; the step finishes
    world.update((x) => { x.releaseFails = []; });
    const fixed = recordingIo();
    expect(await main(['resume', '--state-dir', dir, '--kubeconfig', '/dev/null'], fixed, cpPorts(world, dir)), fixed.err + fixed.out).toBe(0);
    w = read(world, Date.now());
    expect(w.nodes.every((n) => Object.values(n.components).every((c) => c.version === 'v1.13.12' && !c.held && c.running))).toBe(true);
    const sched = w.executions.filter((e) => e.component === 'kube-scheduler').map((e) => e.runId.replace(/^.*\.cp0\./, ''));
    expect(sched).toEqual(['cp1.kube-scheduler.a1', 'cp1.kube-scheduler.a2', 'cp1.kube-scheduler.a3']);
    // every other component exactly once; the controller-manager's release was not redone
    expect(w.executions.filter((e) => e.component !== 'kube-scheduler')).toHaveLength(7);
    expect(actionLog(world).filter((l) => l.startsWith('release cp1 kube-controller-manager'))).toHaveLength(1);
    // the second hold of the scheduler came after the rollback, before its new swap
    const after = actionLog(world);
    expect(after.filter((l) => l === 'hold cp1 kube-scheduler')).toHaveLength(3);
  }, 90_000);

  it('a kube-apiserver the agent rolls back pauses; resume retries it with a new agent run id', async () => {
    world = makeCpWorld(join(dir, 'world.json'), { extra: { upgradeFails: ['cp1/kube-apiserver'] } });
    const io = recordingIo();
    expect(await main(upgradeArgs(dir), io, cpPorts(world, dir))).toBe(1);
    expect(io.out).toMatch(/kube-apiserver on cp1: agent run .*\.cp0\.cp1\.kube-apiserver\.a1 rolled-back: VERIFY_TIMEOUT/);
    const resumed = recordingIo();
    expect(await main(['resume', '--state-dir', dir, '--kubeconfig', '/dev/null'], resumed, cpPorts(world, dir))).toBe(0);
    const api = read(world, Date.now()).executions.filter((e) => e.component === 'kube-apiserver').map((e) => e.runId.replace(/^.*\.cp0/, 'cp0'));
    expect(api).toEqual(['cp0.cp1.kube-apiserver.a1', 'cp0.cp1.kube-apiserver.a2']);
  }, 60_000);
});
