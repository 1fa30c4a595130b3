import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../lib/clock.ts';
import { silentLogger } from '../../lib/logger.ts';
import { main } from '../../coordinator/cli.ts';
import { openSqliteStore } from '../../coordinator/store/sqlite.ts';
import type { CliPorts } from '../../coordinator/ports.ts';
import { fakeAgent, fakeWorldCluster, type WorldFile } from './engine-fakes.ts';
import { makeWorld } from './engine-setup.ts';
import { recordingIo } from './cli-fakes.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kip-cli-up-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function ports(world: WorldFile, cluster = fakeWorldCluster(world, () => Date.now()), down: string[] = []): CliPorts & { cluster: () => Promise<typeof cluster> } {
  return {
    cluster: async () => cluster,
    agentTls: async () => ({ ca: Buffer.from(''), cert: Buffer.from(''), key: Buffer.from('') }),
    agent: (e) => {
      const a = fakeAgent(world, e.node, () => Date.now(), (ms) => systemClock.sleep(ms));
      return down.includes(e.node) ? { ...a, getNode: async () => { throw new Error('connect ECONNREFUSED'); } } : a;
    },
    openStore: (d) => openSqliteStore(join(d, 'runs.db')),
    clock: systemClock,
    logger: silentLogger(),
    identity: 'me/1',
    pollMs: 5,
  };
}

const base = () => ['--to', 'v1.17.17', '--state-dir', dir, '--kubeconfig', '/dev/null'];

describe('kip upgrade / status / resume / unlock', () => {
  it('upgrades every kubelet, reports it in kip status, and releases the lock', async () => {
    const world = makeWorld(dir, 4);
    const p = ports(world);
    const io = recordingIo();
    expect(await main(['upgrade', ...base(), '--max-concurrency', '2', '--max-unavailable', '2'], io, p)).toBe(0);
    expect(io.out).toMatch(/run kip-\S+ succeeded: every kubelet runs v1\.17\.17/);
    expect(world.read().executions.map((e) => e.node).sort()).toEqual(['w01', 'w02', 'w03', 'w04']);
    expect((await (await p.cluster()).lock.read())).toBeUndefined();
    const st = recordingIo();
    expect(await main(['status', '--state-dir', dir, '-o', 'json'], st, p)).toBe(0);
    const status = JSON.parse(st.out) as { run: { phase: string }; nodes: { node: string; phase: string }[] };
    expect(status.run.phase).toBe('succeeded');
    expect(status.nodes.map((n) => `${n.node}:${n.phase}`)).toEqual(['w01:succeeded', 'w02:succeeded', 'w03:succeeded', 'w04:succeeded']);
    // nothing left to do
    const again = recordingIo();
    expect(await main(['upgrade', ...base()], again, p)).toBe(0);
    expect(again.out).toContain('nothing to do');
  });

  it('pauses with exit 1 on a failed node; a new upgrade is refused; resume finishes it', async () => {
    const world = makeWorld(dir, 3, { failNodes: ['w02'] });
    const p = ports(world);
    const io = recordingIo();
    expect(await main(['upgrade', ...base(), '--canary', '0'], io, p)).toBe(1);
    expect(io.out).toMatch(/paused: node w02: agent run \S+ rolled-back: VERIFY_TIMEOUT/);
    const st = recordingIo();
    expect(await main(['status', '--state-dir', dir], st, p)).toBe(1);
    expect(st.out).toMatch(/w02 +v1\.16\.15 -> v1\.17\.17 +failed/);
    const second = recordingIo();
    expect(await main(['upgrade', ...base()], second, p)).toBe(2);
    expect(second.err).toMatch(/is paused .*continue it with kip resume/);
    const resumed = recordingIo();
    expect(await main(['resume', '--state-dir', dir, '--kubeconfig', '/dev/null'], resumed, p)).toBe(0);
    const runs = world.read().executions;
    expect(runs.filter((e) => e.node === 'w01')).toHaveLength(1);
    expect(runs.filter((e) => e.node === 'w02')).toHaveLength(2);
    expect(runs.filter((e) => e.node === 'w03')).toHaveLength(1);
  });

  it('exits 3 when another run holds the lock, and kip unlock --force removes it', async () => {
    const world = makeWorld(dir, 2);
    const cluster = fakeWorldCluster(world, () => Date.now());
    await cluster.lock.acquire('other-host/7', 'kip-other', 600_000, Date.now());
    const p = ports(world, cluster);
    const io = recordingIo();
    expect(await main(['upgrade', ...base()], io, p)).toBe(3);
    expect(io.err).toMatch(/another run holds the cluster's upgrade lock \(memory\): run kip-other by other-host\/7/);
    expect(world.read().executions).toEqual([]);
    const noForce = recordingIo();
    expect(await main(['unlock', '--kubeconfig', '/dev/null'], noForce, p)).toBe(2);
    expect(await cluster.lock.read()).toBeDefined();
    const dry = recordingIo();
    expect(await main(['unlock', '--dry-run', '--kubeconfig', '/dev/null'], dry, p)).toBe(0);
    expect(await cluster.lock.read()).toBeDefined();
    const forced = recordingIo();
    expect(await main(['unlock', '--force', '--kubeconfig', '/dev/null'], forced, p)).toBe(0);
    expect(forced.out).toContain('held by run kip-other');
    expect(await cluster.lock.read()).toBeUndefined();
  });

  it('--dry-run prints the order and changes nothing', async () => {
    const world = makeWorld(dir, 5);
    const p = ports(world);
    const io = recordingIo();
    expect(await main(['upgrade', ...base(), '--dry-run', '--canary-nodes', 'w04'], io, p)).toBe(0);
    // zones interleaved (w01 z-a, w02 z-b, w03 z-c, w04 z-a, w05 z-b), the canary first
    expect(io.out).toContain('in this order: w04, w01, w02, w03, w05');
    expect(world.read().executions).toEqual([]);
    expect(await (await p.cluster()).lock.read()).toBeUndefined();
  });

  it('--verify-timeout goes into the run (every agent Upgrade carries it); without it, 0: the agent\'s own default', async () => {
    const world = makeWorld(dir, 2);
    const specOf = async (extra: string[]): Promise<{ verifyTimeoutMs: number }> => {
      const io = recordingIo();
      expect(await main(['upgrade', ...base(), '--dry-run', '-o', 'json', ...extra], io, ports(world))).toBe(0);
      return (JSON.parse(io.out) as { spec: { verifyTimeoutMs: number } }).spec;
    };
    expect((await specOf(['--verify-timeout', '45'])).verifyTimeoutMs).toBe(45_000);
    expect((await specOf([])).verifyTimeoutMs).toBe(0);
  });

  it.each([
    [['--max-concurrency', '0'], /--max-concurrency must be an integer of at least 1/],
    [['--max-unavailable', 'x'], /--max-unavailable must be an integer/],
    [['--canary-nodes', 'nope'], /--canary-nodes: no Node named nope/],
    [['--plan', 'fastest'], /--plan must be every-step or fewest-restarts/],
    [['--verify-timeout', '0'], /--verify-timeout must be an integer of at least 1/],
    [['--verify-timeout', '3601'], /--verify-timeout must be at most 3600 s/],
  ])('exits 2 on %j and changes nothing', async (args, message) => {
    const world = makeWorld(dir, 2);
    const io = recordingIo();
    expect(await main(['upgrade', ...base(), ...args], io, ports(world))).toBe(2);
    expect(io.err).toMatch(message);
    expect(world.read().executions).toEqual([]);
  });

  it('exits 2 when an agent does not answer, or the target needs control-plane steps', async () => {
    const world = makeWorld(dir, 2);
    const io = recordingIo();
    expect(await main(['upgrade', ...base()], io, ports(world, undefined, ['w02']))).toBe(2);
    expect(io.err).toMatch(/agent not answering: w02 \(connect ECONNREFUSED\)/);
    const cp = recordingIo();
    expect(await main(['upgrade', '--to', 'v1.18.0', '--state-dir', dir, '--kubeconfig', '/dev/null'], cp, ports(world))).toBe(2);
    expect(cp.err).toMatch(/needs control-plane steps \(v1\.18\.0\)/);
    expect(world.read().executions).toEqual([]);
  });
});
