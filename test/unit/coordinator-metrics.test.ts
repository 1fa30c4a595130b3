import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../coordinator/cli.ts';
import type { AgentPort, StepEvent } from '../../coordinator/fleet/port.ts';
import { parseMetricsListen, startRunMetrics } from '../../coordinator/metrics/run-metrics.ts';
import type { CliPorts } from '../../coordinator/ports.ts';
import { openSqliteStore } from '../../coordinator/store/sqlite.ts';
import { systemClock } from '../../lib/clock.ts';
import { silentLogger } from '../../lib/logger.ts';
import { recordingIo } from './cli-fakes.ts';
import { fakeAgent, fakeWorldCluster, type WorldFile } from './engine-fakes.ts';
import { makeWorld } from './engine-setup.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kip-cmetrics-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** The engine fake's agent, with each step STARTED before its DONE as the real agent streams them. */
function stepwise(agent: AgentPort): AgentPort {
  return {
    ...agent,
    async *upgradeFollow(req) {
      let last = 0;
      const open = new Set<string>();
      for await (const e of agent.upgradeFollow(req)) {
        if (e.status === 'STEP_STARTED') open.add(e.step);
        else if (!open.has(e.step)) yield { ...e, status: 'STEP_STARTED', atUnixMs: last || e.atUnixMs } as StepEvent;
        yield e.step === 'VERIFY' && e.status === 'STEP_DONE' ? { ...e, downtimeMs: 700 } : e;
        last = Number(e.atUnixMs);
      }
    },
  };
}

function ports(world: WorldFile): CliPorts {
  const cluster = fakeWorldCluster(world, () => Date.now());
  return {
    cluster: async () => cluster,
    agentTls: async () => ({ ca: Buffer.from(''), cert: Buffer.from(''), key: Buffer.from('') }),
    agent: (e) => stepwise(fakeAgent(world, e.node, () => Date.now(), (ms) => systemClock.sleep(ms))),
    openStore: (d) => openSqliteStore(join(d, 'runs.db')),
    clock: systemClock,
    logger: silentLogger(),
    identity: 'me/1',
    pollMs: 5,
  };
}

const value = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe('kip upgrade --metrics-listen', () => {
  it('serves step histograms and nodes by state while the run is going', async () => {
    const world = makeWorld(dir, 2, { durationMs: 1_200 });
    const port = await freePort();
    const io = recordingIo();
    const run = main(['upgrade', '--to', 'v1.17.17', '--state-dir', dir, '--kubeconfig', '/dev/null', '--metrics-listen', `:${port}`], io, ports(world));
    let finished = false;
    void run.finally(() => { finished = true; });
    // Scrape until the first node is done and the second is in flight (the event), then assert on that scrape.
    let mid = '';
    while (!finished) {
      const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => '');
      if (value(text, 'kip_nodes{state="succeeded"}') === 1 && value(text, 'kip_nodes{state="upgrading"}') === 1) {
        mid = text;
        break;
      }
      await systemClock.sleep(25);
    }
    expect(await run).toBe(0);
    expect(mid, 'a scrape with one node done and one upgrading').not.toBe('');
    expect(io.err).toContain(`metrics: http://127.0.0.1:${port}/metrics`);
    expect(mid).toMatch(/^kip_coordinator_build_info\{version="[^"]+"\} 1$/m);
    expect(mid).toMatch(/^kip_run_info\{run_id="kip-[^"]+",target="v1\.17\.17"\} 1$/m);
    expect(value(mid, 'kip_upgrade_step_duration_seconds_count{step="VERIFY",component="kubelet",status="done"}')).toBe(1);
    const verifySum = value(mid, 'kip_upgrade_step_duration_seconds_sum{step="VERIFY",component="kubelet",status="done"}') ?? 0;
    expect(verifySum).toBeGreaterThanOrEqual(1.1);
    expect(value(mid, 'kip_component_downtime_seconds_sum{component="kubelet"}')).toBe(0.7);
    expect(value(mid, 'kip_upgrade_action_duration_seconds_count{action="kubelet-upgrade",outcome="ok"}')).toBe(1);
    expect(value(mid, 'kip_container_restarts_seen_total')).toBe(0);
    // The server lives only as long as the run.
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
  }, 30_000);

  it('refuses a bad --metrics-listen before anything starts (exit 2)', async () => {
    const world = makeWorld(dir, 1);
    const io = recordingIo();
    expect(await main(['upgrade', '--to', 'v1.17.17', '--state-dir', dir, '--kubeconfig', '/dev/null', '--metrics-listen', 'localhost'], io, ports(world))).toBe(2);
    expect(io.err).toMatch(/--metrics-listen "localhost": expected PORT, :PORT or HOST:PORT/);
    expect(world.read().executions).toEqual([]);
    expect(parseMetricsListen('9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseMetricsListen('0.0.0.0:9464')).toEqual({ host: '0.0.0.0', port: 9464 });
    expect(parseMetricsListen('[::1]:9')).toEqual({ host: '::1', port: 9 });
  });
});

describe('coordinator run metrics from the observed ports', () => {
  it('counts restarts (new id or restartCount), evicted and gone pods, and old-hash containers', async () => {
    const world = makeWorld(dir, 1);
    const cluster = fakeWorldCluster(world, () => Date.now());
    let pods: V1Pod[] = [
      { metadata: { namespace: 'a', name: 'p1' }, status: { containerStatuses: [{ name: 'c', containerID: 'x://1', restartCount: 0 } as never] } },
      { metadata: { namespace: 'a', name: 'p2' }, status: { containerStatuses: [{ name: 'c', containerID: 'x://2', restartCount: 3 } as never] } },
      { metadata: { namespace: 'a', name: 'p3' }, status: {} },
    ];
    cluster.pods = async () => pods;
    const base = fakeAgent(world, 'w01', () => Date.now(), (ms) => systemClock.sleep(ms));
    const agent = Object.assign(stepwise(base), { hashReport: async (v: string) => ({ predictedRestarts: v === 'v1.17.17' ? ['a/p1/c', 'a/p2/c'] : [] }) });
    const m = await startRunMetrics({ listen: '127.0.0.1:0', runId: 'r1', target: 'v1.17.17', logger: silentLogger() });
    try {
      const d = m.observe({ store: openSqliteStore(join(dir, 'runs.db')), cluster, agents: new Map([['w01', agent as AgentPort]]) });
      await d.cluster.pods();
      pods = [
        { metadata: { namespace: 'a', name: 'p1' }, status: { containerStatuses: [{ name: 'c', containerID: 'x://9', restartCount: 0 } as never] } },
        { metadata: { namespace: 'a', name: 'p2' }, status: { reason: 'Evicted', containerStatuses: [{ name: 'c', containerID: 'x://2', restartCount: 5 } as never] } },
      ];
      await d.cluster.pods();
      await d.cluster.pods();
      for await (const _ of d.agents.get('w01')!.upgradeFollow({ runId: 'r1-w01', targetVersion: 'v1.17.17' })) { /* drain */ }
      let text = '';
      for (let i = 0; i < 100 && !/kip_containers_old_hash\{node="w01"\} 2/.test(text); i++) {
        text = await m.scrape();
        await systemClock.sleep(10);
      }
      expect(value(text, 'kip_container_restarts_seen_total')).toBe(3);
      expect(value(text, 'kip_pods_evicted_total{how="evicted"}')).toBe(1);
      expect(value(text, 'kip_pods_evicted_total{how="gone"}')).toBe(1);
      expect(value(text, 'kip_containers_old_hash{node="w01"}')).toBe(2);
      d.store.close();
    } finally {
      await m.close();
    }
  });
});
