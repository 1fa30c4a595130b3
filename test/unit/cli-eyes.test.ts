// kip status --live, kip heal and kip finalize with fake agents; and their pure parts (issue 11).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../lib/clock.ts';
import { main } from '../../coordinator/cli.ts';
import { baselineSnapshot, multipliedConnections, sumPerEndpoint } from '../../coordinator/eyes/connections.ts';
import { brokenConnectionFindings } from '../../coordinator/eyes/findings.ts';
import { planFinalize } from '../../coordinator/eyes/finalize.ts';
import { groupOldHashByOwner } from '../../coordinator/eyes/owners.ts';
import { AgentCallError } from '../../coordinator/fleet/errors.ts';
import type { AgentPort, HealRequest, HealResponse, InventoryReport, NodeInfo } from '../../coordinator/fleet/port.ts';
import { fakeCluster, fakePorts, node, recordingIo } from './cli-fakes.ts';

describe('connections across the fleet', () => {
  it('sums per endpoint and warns when a step multiplied them (1.17: about ten per kubelet)', () => {
    const before = { at: 0, runId: 'r', nodes: { n1: { '10.0.0.1:6443': 1 }, n2: { '10.0.0.1:6443': 1 } } };
    expect(sumPerEndpoint(before.nodes)).toEqual({ '10.0.0.1:6443': 2 });
    expect(multipliedConnections(before, { n1: { '10.0.0.1:6443': 2 }, n2: { '10.0.0.1:6443': 1 } })).toEqual([]);
    const w = multipliedConnections(before, { n1: { '10.0.0.1:6443': 10 }, n2: { '10.0.0.1:6443': 1 } });
    expect(w.map((x) => [x.object, x.before, x.now])).toEqual([['n1', 1, 10], ['endpoint 10.0.0.1:6443', 2, 11]]);
    expect(w[0]!.message).toContain('#95427');
    expect(w[0]!.message).toContain('#105490');
    // a node not seen before is no multiplication
    expect(multipliedConnections(before, { n3: { '10.0.0.1:6443': 10 } })).toEqual([]);
  });
});

describe('connection baseline', () => {
  it('compares each node with the look before its step started, else with the previous look', () => {
    const h = [
      { at: 100, runId: '', nodes: { n1: { e: 1 }, n2: { e: 1 } } },
      { at: 200, runId: 'r', nodes: { n1: { e: 10 }, n2: { e: 1 } } },
      { at: 300, runId: 'r', nodes: { n1: { e: 10 }, n2: { e: 2 } } },
    ];
    const b = baselineSnapshot(h, { n1: 150 })!;
    expect(b.nodes).toEqual({ n1: { e: 1 }, n2: { e: 2 } });
    expect(multipliedConnections(b, { n1: { e: 10 }, n2: { e: 2 } }).map((w) => w.object)).toEqual(['n1', 'endpoint e']);
    // without a step, the previous look: 10 -> 10 is no warning
    expect(multipliedConnections(baselineSnapshot(h, {})!, { n1: { e: 10 }, n2: { e: 2 } })).toEqual([]);
    expect(baselineSnapshot([], {})).toBeUndefined();
  });
});

describe('broken connections', () => {
  const errors = (count: number) => ({ windowMinutes: 5, count, minutesWithErrors: count > 0 ? 2 : 0, lastAtUnixMs: 1 });
  it('reports a node logging the error repeatedly while NotReady, with kip heal', () => {
    const f = brokenConnectionFindings([
      { node: 'a', ready: false, errors: errors(12), skipFilePresent: true },
      { node: 'b', ready: true, errors: errors(12), skipFilePresent: true },
      { node: 'c', ready: false, errors: errors(1), skipFilePresent: true },
      { node: 'd', ready: undefined, errors: errors(3), skipFilePresent: false },
    ]);
    expect(f.map((x) => x.node)).toEqual(['a', 'd']);
    expect(f[0]!.why).toMatch(/golang\/go#34978.*kubernetes#87615.*#100376/);
    expect(f[0]!.fix).toBe('kip heal --node a (restarts the kubelet; safe: the skip file is present)');
  });
});

describe('old hashes by owner', () => {
  it('groups per node and owner with how to roll them', () => {
    const c = (pod: string, name: string, ownerKind: string, ownerName: string, oldHash = true) => ({ pod, containerName: name, oldHash, ownerKind, ownerName });
    const g = groupOldHashByOwner([
      { node: 'n1', containers: [c('ns/web-1', 'app', 'Deployment', 'web'), c('ns/web-2', 'app', 'Deployment', 'web'), c('ns/db-0', 'db', 'StatefulSet', 'db'), c('ns/ok', 'x', 'Pod', 'ok', false), c('ns/lone', 'x', 'Pod', 'lone'), c('kube-system/etcd-n1', 'etcd', 'Node', 'n1')] },
      { node: 'n2', containers: [c('kube-system/proxy-a', 'p', 'DaemonSet', 'proxy')] },
    ]);
    expect(g.map((x) => [x.node, x.kind, x.owner, x.containers])).toEqual([
      ['n1', 'Deployment', 'ns/web', ['ns/web-1/app', 'ns/web-2/app']],
      ['n1', 'Node', 'n1', ['kube-system/etcd-n1/etcd']],
      ['n1', 'Pod', 'ns/lone', ['ns/lone/x']],
      ['n1', 'StatefulSet', 'ns/db', ['ns/db-0/db']],
      ['n2', 'DaemonSet', 'kube-system/proxy', ['kube-system/proxy-a/p']],
    ]);
    expect(g[0]!.roll).toBe('kubectl -n ns rollout restart deployment/web');
  });
});

describe('finalize order', () => {
  const info = (skipFilePresent = false, kubeletActive = true, runRunning = false) => ({ skipFilePresent, kubeletActive, runRunning });
  it('takes consistent nodes one at a time in name order and says why the others wait', () => {
    const p = planFinalize([{ node: 'c', info: info() }, { node: 'a', info: info() }, { node: 'b', info: info(true) }, { node: 'd', error: 'down' }, { node: 'e', info: info(false, true, true) }, { node: 'f', info: info(false, false) }], undefined);
    expect(p.order).toEqual(['a', 'c']);
    expect(p.skipped.map((s) => s.node)).toEqual(['b', 'd', 'e', 'f']);
    expect(p.skipped[0]!.why).toContain('skip file is still present');
    expect(planFinalize([{ node: 'c', info: info() }, { node: 'a', info: info() }], ['c']).order).toEqual(['c']);
    expect(() => planFinalize([{ node: 'a', info: info() }], ['zz'])).toThrow(/--nodes zz/);
  });
});

// ---- the commands, with fake agents

const nodeInfo = (name: string, over: Partial<NodeInfo> = {}): NodeInfo => ({
  nodeName: name, agentVersion: '0', kubeletBinary: '/k', kubeletVersion: 'v1.14.10', kubeletSha256: '', kubeletPatched: true,
  unit: { name: 'kubelet.service', activeState: 'active', subState: 'running', mainPid: 100, startedAtUnixMs: 0, privateTmp: false },
  skipFile: { path: '/s', present: false, valid: false, version: '', unixSeconds: 0, raw: '', problem: '' },
  disks: [], staged: [], lastRunId: '', lastRunPhase: 'RUN_PHASE_UNSPECIFIED', components: [], etcdSnapshots: [], tlsCertNotAfterUnixMs: 0, componentsError: '',
  apiserverConnections: [{ endpoint: '10.0.0.1:6443', established: 1 }], connectionErrors: { windowMinutes: 5, count: 0, minutesWithErrors: 0, lastAtUnixMs: 0 },
  ...over,
} as NodeInfo);

const heal = (req: HealRequest, over: Partial<HealResponse> = {}): HealResponse => ({
  healId: req.healId ?? '', mode: req.mode === 'HEAL_FINALIZE' ? 'HEAL_FINALIZE' : 'HEAL_RESTART', dryRun: req.dryRun ?? false, restarted: !req.dryRun, oldMainPid: 100, newMainPid: req.dryRun ? 0 : 101,
  downtimeMs: '1500', firstHealthyAtUnixMs: '0', gate: 'skip file v1.13.12 present', containersBefore: 3, containersRestarted: [], oldHashContainers: [], ...over,
} as HealResponse);

function agent(info: () => NodeInfo, opts: { inv?: InventoryReport; heal?: (r: HealRequest) => HealResponse; calls?: string[] } = {}): AgentPort {
  return {
    getNode: async () => info(),
    getRun: async () => { throw new Error('x'); },
    preflight: async () => { throw new Error('x'); },
    stageBinary: async () => { throw new Error('x'); },
    upgradeFollow: () => { throw new Error('x'); },
    rollback: async () => { throw new Error('x'); },
    hold: async () => { throw new Error('x'); },
    release: async () => { throw new Error('x'); },
    etcdSnapshot: async () => { throw new Error('x'); },
    fetchSnapshot: () => { throw new Error('x'); },
    watch: () => { throw new Error('x'); },
    inventory: async () => opts.inv ?? { kubeletVersion: 'v1.14.10', runtime: 'cri', containers: [], skipFileVersion: '', acceptedVersions: [] },
    heal: async (r) => {
      opts.calls?.push(`${info().nodeName} ${r.mode}${r.dryRun ? ' dry' : ''}`);
      return (opts.heal ?? heal)(r);
    },
    close: () => undefined,
  };
}

describe('kip status --live, heal, finalize', () => {
  let dir: string;
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'kip-eyes-')); });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });
  const args = (cmd: string[]) => [...cmd, '--state-dir', dir, '--kubeconfig', '/dev/null'];

  it('status --live: connections per endpoint, a multiplied count after a step, a broken-connection node, drift and old hashes by owner', async () => {
    let conns = 1;
    const cluster = fakeCluster('v1.14.10', [node('n1', 'v1.14.10'), node('n2', 'v1.14.10', { ready: false })]);
    const inv: InventoryReport = {
      kubeletVersion: 'v1.14.10', runtime: 'cri', skipFileVersion: 'v1.13.12', acceptedVersions: ['1.13', '1.14'],
      containers: [
        { containerId: 'c1', pod: 'ns/web-1', podUid: 'u', containerName: 'app', init: false, hashLabel: 'a', matchingVersions: ['1.13'], hashes: [], problem: '', oldHash: true, drift: false, driftFields: [], driftDetail: '', ownerKind: 'Deployment', ownerName: 'web' },
        { containerId: 'c2', pod: 'ns/bare', podUid: 'u2', containerName: 'x', init: false, hashLabel: 'b', matchingVersions: [], hashes: [], problem: '', oldHash: true, drift: true, driftFields: ['image'], driftDetail: 'the spec names image nginx:1.2, the container runs nginx:1.1', ownerKind: 'Pod', ownerName: 'bare' },
      ],
    };
    const agents = (e: { node: string }) => agent(() => nodeInfo(e.node, {
      apiserverConnections: [{ endpoint: '10.0.0.1:6443', established: e.node === 'n1' ? conns : 1 }],
      ...(e.node === 'n2' ? { connectionErrors: { windowMinutes: 5, count: 9, minutesWithErrors: 3, lastAtUnixMs: '1' } } : {}),
    } as Partial<NodeInfo>), e.node === 'n1' ? { inv } : {});
    const io1 = recordingIo();
    expect(await main(args(['status', '--live']), io1, fakePorts(cluster, { agents }))).toBe(1);
    expect(io1.out).toContain('apiserver connections per endpoint: 10.0.0.1:6443=2');
    expect(io1.out).toMatch(/BROKEN CONNECTIONS n2: .*golang\/go#34978.*fix: kip heal --node n2/);
    expect(io1.out).toContain('DRIFT n1 ns/bare/x: image differ');
    expect(io1.out).toMatch(/n1 +Deployment +ns\/web +ns\/web-1\/app +kubectl -n ns rollout restart deployment\/web/);
    expect(io1.out).not.toContain('WARNING');
    conns = 10;
    const io2 = recordingIo();
    await main(args(['status', '--live', '-o', 'json']), io2, fakePorts(cluster, { agents }));
    const v = JSON.parse(io2.out) as { connectionWarnings: { object: string; before: number; now: number }[]; connectionsPerEndpoint: Record<string, number> };
    expect(v.connectionsPerEndpoint).toEqual({ '10.0.0.1:6443': 11 });
    expect(v.connectionWarnings.map((w) => [w.object, w.before, w.now])).toEqual([['n1', 1, 10], ['endpoint 10.0.0.1:6443', 2, 11]]);
  });

  it('heal --node: restarts through the agent and reports the PIDs and the downtime; --dry-run says what it would do', async () => {
    const cluster = fakeCluster('v1.14.10', [node('n1', 'v1.14.10')]);
    const calls: string[] = [];
    const agents = (e: { node: string }) => agent(() => nodeInfo(e.node), { calls });
    const io = recordingIo();
    expect(await main(args(['heal', '--node', 'n1']), io, fakePorts(cluster, { agents }))).toBe(0);
    expect(io.out).toBe('n1: kubelet restarted, pid 100 -> 101, down 1.5 s (skip file v1.13.12 present); 3 container(s), none restarted\n');
    const dry = recordingIo();
    expect(await main(args(['heal', '--node', 'n1', '--dry-run']), dry, fakePorts(cluster, { agents }))).toBe(0);
    expect(dry.out).toContain('would restart the kubelet (pid 100)');
    expect(calls).toEqual(['n1 HEAL_RESTART', 'n1 HEAL_RESTART dry']);
    const bad = recordingIo();
    expect(await main(args(['heal', '--node', 'nope']), bad, fakePorts(cluster, { agents }))).toBe(2);
    expect(bad.err).toContain('no agent known for nope');
  });

  it('finalize: one node at a time in order, skips nodes with a skip file, goes on past a refusal, stops at a restarted container', async () => {
    const cluster = fakeCluster('v1.14.10', ['a', 'b', 'c', 'd'].map((n) => node(n, 'v1.14.10')));
    const calls: string[] = [];
    const refuse = () => { throw new AgentCallError('FINALIZE_NOT_CONSISTENT', 'Heal: not consistent', 'precondition', 9, 'Heal'); };
    const agents = (e: { node: string }) => agent(() => nodeInfo(e.node, e.node === 'b' ? { skipFile: { path: '/s', present: true, valid: true, version: 'v1.13.12', unixSeconds: 1, raw: '', problem: '' } } : {}), {
      calls,
      ...(e.node === 'c' ? { heal: (r: HealRequest) => (r.dryRun ? heal(r) : refuse()) } : {}),
      ...(e.node === 'd' ? { heal: (r: HealRequest) => heal(r, r.dryRun ? {} : { containersRestarted: ['ns/p/x (c9)'] }) } : {}),
    });
    const dry = recordingIo();
    expect(await main(args(['finalize', '--dry-run']), dry, fakePorts(cluster, { agents }))).toBe(0);
    expect(calls).toEqual(['a HEAL_FINALIZE dry', 'c HEAL_FINALIZE dry', 'd HEAL_FINALIZE dry']);
    expect(dry.out).toContain('b: skipped: the skip file is still present');
    calls.length = 0;
    const io = recordingIo();
    expect(await main(args(['finalize']), io, fakePorts(cluster, { agents }))).toBe(1);
    expect(calls).toEqual(['a HEAL_FINALIZE', 'c HEAL_FINALIZE', 'd HEAL_FINALIZE']);
    expect(io.out).toContain('a: finalized');
    expect(io.out).toContain('c: refused by the agent: FINALIZE_NOT_CONSISTENT');
    expect(io.out).toContain('finalize stopped: d: 1 container(s) restarted');
    calls.length = 0;
    expect(await main(args(['finalize', '--nodes', 'a']), recordingIo(), fakePorts(cluster, { agents }))).toBe(0);
    expect(calls).toEqual(['a HEAL_FINALIZE']);
  });

  it('finalize stops when the Node is not Ready again in time', async () => {
    const cluster = fakeCluster('v1.14.10', [node('a', 'v1.14.10'), node('b', 'v1.14.10')]);
    const calls: string[] = [];
    const agents = (e: { node: string }) => agent(() => nodeInfo(e.node), { calls, heal: (r) => { cluster.nodeList[0] = node('a', 'v1.14.10', { ready: false }); return heal(r); } });
    class Ticking extends FakeClock {
      override sleep(ms: number): Promise<void> { this.advance(ms); return Promise.resolve(); }
    }
    const io = recordingIo();
    expect(await main(args(['finalize', '--ready-timeout', '5']), io, fakePorts(cluster, { agents, clock: new Ticking(0) }))).toBe(1);
    expect(io.out).toContain('finalize stopped: a: the Node is not Ready within 5 s');
    expect(calls).toEqual(['a HEAL_FINALIZE']);
  });
});
