/**
 * End to end: `kip-lab up` (the CLI, in its own process, as a user runs it) brings up a small lab
 * (1 control plane + 2 workers, the small workload set), everything is checked through the real
 * parts (the API via client-node and kubectl, each worker's containerd over CRI, the nodes'
 * systemd), then `kip-lab down` must leave nothing behind.
 */
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execaExec, type ExecResult } from '../../lib/exec.ts';
import { KubeClient } from '../../lib/kube/index.ts';
import { kubeRestFromKubeconfig } from '../../lib/kube/raw.ts';
import { openNodeRuntime, shimAddressOf } from '../../scripts/lab/node-runtime.ts';
import { KubeAnnotation, KubeLabel } from '../../agent/runtime/kube-labels.ts';
import { containerHash } from '../../lib/knowledge/hash/index.ts';
import { mountsUnder } from '../../scripts/containerd/mounts.ts';
import { shimPids } from '../../scripts/containerd/procs.ts';
import { readLabState, unixSocketPaths, type LabState } from '../../scripts/lab/lab.ts';
import { AgentConnection } from '../../coordinator/fleet/client.ts';
import { SELECTOR_LABEL, SELECTOR_POD, workloadPlan } from '../../scripts/lab/workloads.ts';

const REPO = path.resolve(import.meta.dirname, '..', '..');
const PREFIX = '127.0.93';
let stateDir = '';
let upResult: ExecResult | undefined;
let state: LabState | undefined;
let downDone = false;
const figures: Record<string, unknown> = {};

function kip(args: string[], timeoutMs: number): Promise<ExecResult> {
  return execaExec(process.execPath, [path.join(REPO, 'bin/kip-lab.mjs'), ...args, '--state-dir', stateDir], { timeoutMs, cwd: REPO });
}

function lab(): LabState {
  if (!state) throw new Error(`the lab did not come up:\n${upResult?.stdout ?? ''}\n${upResult?.stderr ?? ''}`);
  return state;
}

/** Every host process whose command line or cwd mentions the state dir (the lab's own processes). */
async function processesMentioning(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    const cmd = await readFile(`/proc/${e}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(dir)) out.push(`${e}: ${cmd.replace(/\0/g, ' ')}`);
  }
  return out;
}

/** Alive and not a zombie. */
async function alive(pid: number): Promise<boolean> {
  return readFile(`/proc/${pid}/stat`, 'utf8').then((t) => !/\) [ZX] /.test(t), () => false);
}

function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    sock.setTimeout(3_000, () => {
      sock.destroy();
      resolve(false);
    });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(() => true, () => false);
}

beforeAll(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'kip-e2e-lab-'));
  const started = performance.now();
  upResult = await kip(['up', '--workers', '2', '--workloads', 'small', '--address-prefix', PREFIX, '--sync-interval', '1000', '--timeout', '240'], 300_000);
  figures.upWallMs = Math.round(performance.now() - started);
  state = await readLabState(stateDir);
}, 320_000);

afterAll(async () => {
  // Always leave nothing behind, even when a test failed before the down test ran.
  if (!downDone && stateDir) await kip(['down'], 240_000);
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
  console.log(`[e2e lab] ${JSON.stringify(figures)}`);
}, 260_000);

describe('kip-lab (1 control plane + 2 workers)', () => {
  it('comes up and reports its summary', () => {
    expect(upResult?.exitCode, `${upResult?.stdout}\n${upResult?.stderr}`).toBe(0);
    expect(upResult?.stdout).toMatch(/lab up: 3 nodes \(1 control plane \+ 2 workers\), \d+ pods, \d+ containers running/);
    const s = lab();
    expect(s.status).toBe('up');
    expect(s.nodes.map((n) => [n.name, n.address])).toEqual([
      ['control-plane', `${PREFIX}.10`], ['worker-1', `${PREFIX}.11`], ['worker-2', `${PREFIX}.12`],
    ]);
    figures.upMs = s.summary?.upMs;
    figures.memoryMiB = Object.fromEntries(Object.entries(s.summary?.memoryBytes ?? {}).map(([k, v]) => [k, Math.round(v / 1048576)]));
  });

  it('status: every node systemd running, every unit active, apiserver healthy, nodes Ready', async () => {
    const r = await kip(['status', '-o', 'json'], 60_000);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const h = JSON.parse(r.stdout) as { healthy: boolean; apiserverHealthy: boolean; nodes: { name: string; systemd: string; units: Record<string, string>; ready?: boolean }[] };
    expect(h.healthy).toBe(true);
    expect(h.apiserverHealthy).toBe(true);
    expect(h.nodes.find((n) => n.name === 'control-plane')?.units).toEqual({
      'etcd.service': 'active', 'kube-apiserver.service': 'active', 'kube-scheduler.service': 'active', 'kube-controller-manager.service': 'active', 'kip-agent.service': 'active',
    });
    expect(h.nodes.find((n) => n.name === 'control-plane')).toMatchObject({ agent: `${PREFIX}.10:7443` });
    for (const [i, w] of ['worker-1', 'worker-2'].entries()) {
      expect(h.nodes.find((n) => n.name === w)).toMatchObject({ ready: true, agent: `${PREFIX}.${11 + i}:7443`, units: { 'kubelet.service': 'active', 'kube-proxy.service': 'active', 'kip-agent.service': 'active' } });
    }
  }, 120_000);

  it('the control-plane agent lists apiserver, scheduler and controller-manager with their versions and takes a verified etcd snapshot', async () => {
    const s = lab();
    const cp = s.nodes.find((n) => n.role === 'control-plane');
    expect(cp?.agent).toBe(`${PREFIX}.10:7443`);
    const pki = s.kip?.pkiDir ?? '';
    const tls = { ca: await readFile(path.join(pki, 'ca.crt')), cert: await readFile(path.join(pki, 'coordinator.crt')), key: await readFile(path.join(pki, 'coordinator.key')) };
    const conn = new AgentConnection({ address: cp?.agent ?? '', tls });
    try {
      const info = await conn.getNode();
      expect(info.componentsError).toBe('');
      expect(info.components.map((c) => [c.name, c.runtime, c.unit, c.version, c.healthUrl])).toEqual([
        ['kube-apiserver', 'systemd', 'kube-apiserver.service', 'v1.10.13', `https://${PREFIX}.10:6443/healthz`],
        ['kube-controller-manager', 'systemd', 'kube-controller-manager.service', 'v1.10.13', `http://${PREFIX}.10:10252/healthz`],
        ['kube-scheduler', 'systemd', 'kube-scheduler.service', 'v1.10.13', `http://${PREFIX}.10:10251/healthz`],
      ]);
      // Each health URL the agent will probe answers now.
      for (const c of info.components.filter((x) => x.healthUrl.startsWith('http:'))) expect((await fetch(c.healthUrl)).status, c.name).toBe(200);
      const snap = await conn.etcdSnapshot();
      expect(snap.endpoint).toBe(`http://${PREFIX}.10:2379`);
      expect(Number(snap.totalKeys)).toBeGreaterThan(10);
      expect((await conn.getNode()).etcdSnapshots.map((x) => x.id)).toContain(snap.id);
    } finally {
      conn.close();
    }
    // The inventory names the control-plane agent (it has no Node object); releases hold every component per version.
    expect(await readFile(s.kip?.inventory ?? '', 'utf8')).toContain(`address: ${PREFIX}.10:7443`);
    const v17 = await readdir(path.join(s.kip?.releases ?? '', 'v1.17.17'));
    expect(v17.sort()).toEqual(['kube-apiserver', 'kube-controller-manager', 'kube-proxy', 'kube-scheduler', 'kubelet']);
  }, 120_000);

  it('every worker runs kube-proxy as a unit, its healthz on ADDR:10256, its version from the launcher', async () => {
    for (const w of lab().nodes.filter((n) => n.role === 'worker')) {
      const r = await fetch(`http://${w.address}:10256/healthz`);
      expect(r.status, w.name).toBe(200);
      const body = (await r.json()) as { lastUpdated: string; currentTime: string };
      expect(Date.parse(body.currentTime)).toBeGreaterThanOrEqual(Date.parse(body.lastUpdated));
      const v = await execaExec(path.join(w.root, 'usr/bin/kube-proxy'), ['--version'], { timeoutMs: 10_000 });
      expect(v.stdout.trim()).toBe('Kubernetes v1.10.13');
    }
  });

  it('kubectl works with the admin kubeconfig (kip-lab kubeconfig)', async () => {
    const k = await kip(['kubeconfig'], 30_000);
    expect(k.exitCode).toBe(0);
    const kubeconfig = k.stdout.trim();
    expect(kubeconfig).toBe(lab().kubeconfig);
    const r = await execaExec('kubectl', ['--kubeconfig', kubeconfig, 'get', 'nodes', '--no-headers'], { timeoutMs: 60_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    const rows = r.stdout.trim().split('\n').map((l) => l.split(/\s+/));
    expect(rows.map((c) => [c[0], c[1], c[4]])).toEqual([['worker-1', 'Ready', 'v1.10.13'], ['worker-2', 'Ready', 'v1.10.13']]);
  });

  it('every container runs, with the v1.10 hash of its served spec, and the API agrees', async () => {
    const s = lab();
    const rest = await kubeRestFromKubeconfig(s.kubeconfig ?? '');
    const pods = ((await rest.get('/api/v1/pods')).value as { items: { metadata: { name: string; namespace: string; uid: string }; spec: { nodeName: string; containers: { name: string }[]; tolerations?: { key?: string }[] }; status: { phase: string; containerStatuses?: { name: string; state: { running?: object } }[] } }[] }).items;
    const plan = workloadPlan(['worker-1', 'worker-2'], 'small');
    expect(pods.length).toBe(plan.pods.length);
    let total = 0;
    for (const w of s.nodes.filter((n) => n.role === 'worker')) {
      const cri = openNodeRuntime(w);
      try {
        const running = (await cri.listContainers()).filter((c) => c.state === 'running');
        const mine = pods.filter((p) => p.spec.nodeName === w.name);
        expect(mine.length).toBeGreaterThan(0);
        for (const p of mine) {
          expect(p.status.phase).toBe('Running');
          for (const c of p.spec.containers) {
            const found = running.filter((x) => x.labels[KubeLabel.podUid] === p.metadata.uid && x.name === c.name);
            expect(found.length, `${p.metadata.namespace}/${p.metadata.name}/${c.name} on ${w.name}`).toBe(1);
            expect(found[0]?.annotations[KubeAnnotation.containerHash]).toBe(containerHash(JSON.stringify(c), '1.10').label);
            expect(p.status.containerStatuses?.find((cs) => cs.name === c.name)?.state.running).toBeDefined();
            total++;
          }
        }
      } finally {
        cri.close();
      }
    }
    expect(total).toBe(plan.containers);
    // Created without DefaultTolerationSeconds: no pod tolerates not-ready/unreachable.
    for (const p of pods) expect(p.spec.tolerations?.filter((t) => t.key?.startsWith('node.kubernetes.io/')) ?? []).toEqual([]);
  });

  it('the selector pod runs on a node that no longer carries its nodeSelector label', async () => {
    const kube = KubeClient.fromFile(lab().kubeconfig ?? '');
    const p = await kube.getPod(SELECTOR_POD.namespace, SELECTOR_POD.name);
    expect(p.spec?.nodeSelector).toEqual({ [SELECTOR_LABEL.key]: SELECTOR_LABEL.value });
    expect(p.status?.phase).toBe('Running');
    const node = await kube.getNode(p.spec?.nodeName ?? '');
    expect(node.metadata?.labels?.[SELECTOR_LABEL.key]).toBeUndefined();
  });

  it('refuses a second `kip-lab up` on the same state dir', async () => {
    const r = await kip(['up', '--workers', '1', '--address-prefix', PREFIX], 60_000);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('run `kip-lab down`');
    expect((await readLabState(stateDir))?.status).toBe('up');
  });

  it('`kip-lab down` leaves nothing behind: processes, mounts, cgroups, sockets, state', async () => {
    const s = lab();
    const shimSockets: string[] = [];
    const containerCgroups: string[] = [];
    for (const w of s.nodes) {
      const shimAddress = shimAddressOf(w);
      if (!shimAddress) continue;
      for (const shim of await shimPids(shimAddress)) {
        shimSockets.push(...(await unixSocketPaths(shim)).filter((p) => p.startsWith('/run/containerd/s/')));
        const children = (await readFile(`/proc/${shim}/task/${shim}/children`, 'utf8')).trim().split(' ').filter(Boolean);
        for (const c of children) {
          const cg = (await readFile(`/proc/${c}/cgroup`, 'utf8')).split('\n').find((l) => l.startsWith('0::'))?.slice(3);
          if (cg) containerCgroups.push(cg);
        }
      }
    }
    expect(shimSockets.length).toBeGreaterThan(0);
    expect(containerCgroups.length).toBeGreaterThan(0);
    expect((await processesMentioning(stateDir)).length).toBeGreaterThan(0);

    const started = performance.now();
    const r = await kip(['down'], 240_000);
    figures.downMs = Math.round(performance.now() - started);
    downDone = true;
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);

    expect(await processesMentioning(stateDir)).toEqual([]);
    expect(await alive(s.supervisorPid), 'supervisor').toBe(false);
    for (const n of s.nodes) {
      for (const pid of [n.nspawnPid, n.leaderPid, n.containerd?.pid, n.dockerd?.pid]) {
        if (pid !== undefined) expect(await alive(pid), `pid ${pid} of ${n.name}`).toBe(false);
      }
      expect(await exists(path.join('/sys/fs/cgroup/unified', n.cgroup ?? 'none')) || await exists(path.join('/sys/fs/cgroup', n.cgroup ?? 'none'))).toBe(false);
      const shimAddress = shimAddressOf(n);
      if (shimAddress) expect(await shimPids(shimAddress)).toEqual([]);
    }
    for (const cg of containerCgroups) {
      expect(await exists(path.join('/sys/fs/cgroup/unified', cg)) || await exists(path.join('/sys/fs/cgroup/memory', cg))).toBe(false);
    }
    for (const sock of shimSockets) expect(await exists(sock), sock).toBe(false);
    expect(await mountsUnder(stateDir)).toEqual([]);
    expect(await exists(stateDir)).toBe(false);
    // The apiserver's address no longer answers.
    expect(await listening(`${PREFIX}.10`, 6443)).toBe(false);
    expect(await listening(`${PREFIX}.10`, 2379)).toBe(false);
    // A second down is a no-op.
    const again = await kip(['down'], 60_000);
    expect(again.exitCode).toBe(0);
    // two downs of three nodes and their runtimes: minutes on a loaded machine, not 30 s
  }, 300_000);
});
