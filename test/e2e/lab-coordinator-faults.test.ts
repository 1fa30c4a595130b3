/**
 * End to end (issue 10, "Tests"): faults around the coordinator on one small lab (control plane +
 * 2 containerd workers at v1.13.12, patched kubelets, real kip-agents under systemd), driven
 * through the `kip` CLI as a user runs it (bin/kip.mjs as a child process, with the kubeconfig,
 * STATE/kip/pki, STATE/kip/inventory.yaml and STATE/releases the lab writes). In sequence:
 *  (a) `kip upgrade --to v1.14.10` is killed with SIGKILL while a worker's kubelet step is in
 *      flight; `kip resume` finishes the run: every node's agent journal holds exactly one kubelet
 *      run to v1.14.10 (none upgraded twice, none skipped) and containerd shows every container
 *      with the same id;
 *  (c) during `kip upgrade --to v1.15.12` a container is stopped by hand on a worker (CRI
 *      StopContainer, as `crictl stop` does) while that worker's step is in flight: the run
 *      pauses and its reason names the container.
 * Every wait is for an event (the store through `kip status -o json`, the agent's journal), with
 * generous deadlines: the machine is shared and loaded.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execaExec, type ExecResult } from '../../lib/exec.ts';
import { AgentConnection } from '../../coordinator/fleet/client.ts';
import { createCriClient } from '../../agent/runtime/cri.ts';
import { AGENT_PORT } from '../../scripts/lab/node-config.ts';
import { nodeExec, readLabState, type LabNodeRecord, type LabState } from '../../scripts/lab/lab.ts';
import { KubeClient } from '../../lib/kube/index.ts';
import { SELECTOR_LABEL, SELECTOR_POD } from '../../scripts/lab/workloads.ts';

const REPO = path.resolve(import.meta.dirname, '..', '..');
const PREFIX = '127.0.40';
const FROM = 'v1.13.12';
const MID = 'v1.14.10';
const TO = 'v1.15.12';
const WORKERS = ['worker-1', 'worker-2'];
let stateDir = '';
let upResult: ExecResult | undefined;
let state: LabState | undefined;

function kipLab(args: string[], timeoutMs: number): Promise<ExecResult> {
  return execaExec(process.execPath, [path.join(REPO, 'bin/kip-lab.mjs'), ...args, '--state-dir', stateDir], { timeoutMs, cwd: REPO });
}

function lab(): LabState {
  if (!state || state.status !== 'up') throw new Error(`the lab did not come up:\n${upResult?.stdout ?? ''}\n${upResult?.stderr ?? ''}`);
  return state;
}

function node(name: string): LabNodeRecord {
  const n = lab().nodes.find((x) => x.name === name);
  if (!n?.leaderPid) throw new Error(`no node ${name}`);
  return n;
}

async function sh(name: string, cmd: string): Promise<string> {
  const r = await nodeExec(execaExec, node(name).leaderPid!, 'sh', ['-c', cmd], 60_000);
  return r.stdout.trim();
}

function kipCommon(): string[] {
  const s = lab();
  return ['--kubeconfig', s.kubeconfig!, '--pki-dir', s.kip!.pkiDir, '--inventory', s.kip!.inventory, '--state-dir', path.join(s.stateDir, 'kip', 'state')];
}

function kip(args: string[], timeoutMs: number): Promise<ExecResult> {
  return execaExec(process.execPath, [path.join(REPO, 'bin/kip.mjs'), ...args], { timeoutMs, cwd: REPO });
}

/** `kip upgrade` as a child process the test can SIGKILL; resolves with its exit code/signal and output. */
function startKip(args: string[]): { pid: number; done: Promise<{ code: number | null; signal: string | null; out: string }>; kill(): void } {
  const child = spawn(process.execPath, [path.join(REPO, 'bin/kip.mjs'), ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const done = new Promise<{ code: number | null; signal: string | null; out: string }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, out })));
  return { pid: child.pid!, done, kill: () => { child.kill('SIGKILL'); } };
}

interface StatusNode { step: number; node: string; to: string; phase: string; attempt: number; agentRunId: string; error: string }
interface Status { run: { id: string; target: string; phase: string; reason: string | null }; nodes: StatusNode[] }

/** The run's status while it must still be running: a paused or failed run ends the wait at once. */
async function runningStatus(target: string): Promise<Status | undefined> {
  const st = await status().catch(() => undefined);
  if (st && st.run.target === target && st.run.phase !== 'running') throw new Error(`the run stopped: ${st.run.phase}: ${st.run.reason ?? ''}\n${JSON.stringify(st.nodes)}`);
  return st;
}

async function status(): Promise<Status | undefined> {
  const r = await kip(['status', '-o', 'json', '--state-dir', path.join(lab().stateDir, 'kip', 'state')], 120_000);
  if (!r.stdout.trim().startsWith('{')) return undefined;
  return JSON.parse(r.stdout) as Status;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, seen: () => string = () => ''): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}\n${seen()}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** containerd's view of a worker: pod/container -> id (running ones). */
async function containerIds(name: string): Promise<Map<string, string>> {
  const cri = createCriClient({ address: `unix://${node(name).containerd!.socket}` });
  try {
    return new Map((await cri.listContainers()).filter((c) => c.state === 'running')
      .map((c) => [`${name}/${c.labels['io.kubernetes.pod.namespace'] ?? ''}/${c.labels['io.kubernetes.pod.name'] ?? ''}/${c.name}`, c.id] as const));
  } finally {
    cri.close();
  }
}

async function allContainerIds(): Promise<Map<string, string>> {
  const all = new Map<string, string>();
  for (const w of WORKERS) for (const [k, v] of await containerIds(w)) all.set(k, v);
  return all;
}

/** The agent's journal on the node: its kubelet runs to `version` (one JSON file per run under /var/lib/kip-agent/runs). */
async function agentKubeletRuns(name: string, version: string): Promise<{ runId: string; toVersion: string; phase: string; component?: string }[]> {
  const raw = await sh(name, 'for f in /var/lib/kip-agent/runs/*.json; do [ -f "$f" ] && cat "$f" && echo "@@END@@"; done');
  return raw.split('@@END@@').filter((t) => t.trim() !== '')
    .map((t) => JSON.parse(t) as { runId: string; toVersion: string; phase: string; component?: string })
    .filter((r) => r.toVersion === version && (r.component ?? 'kubelet') === 'kubelet');
}

async function agent(name: string): Promise<AgentConnection> {
  const s = lab();
  const tls = { ca: await readFile(s.agentPki!.ca), cert: await readFile(s.agentPki!.cert), key: await readFile(s.agentPki!.key) };
  return new AgentConnection({ address: `${node(name).address}:${AGENT_PORT}`, tls, maxRetries: 3, backoffMs: 500 });
}

beforeAll(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'kip-e2e-faults-'));
  upResult = await kipLab(['up', '--workers', String(WORKERS.length), '--workloads', 'small', '--hashes', 'vectors', '--version', FROM, '--runtime', 'containerd', '--address-prefix', PREFIX,
    '--sync-interval', '1000', '--timeout', '840'], 900_000);
  state = await readLabState(stateDir);
  if (state?.status === 'up') {
    // The lab took the nodeSelector label of one pod off worker-1 (its preflight case): any kubelet
    // restart would then evict that pod, skip file or not. Put it back so every container must survive.
    await KubeClient.fromFile(state.kubeconfig!).patchNode('worker-1', { metadata: { labels: { [SELECTOR_LABEL.key]: SELECTOR_LABEL.value } } }, 'merge');
  }
}, 960_000);

afterAll(async () => {
  if (stateDir) {
    const down = await kipLab(['down'], 300_000);
    expect(down.exitCode, down.stdout + down.stderr).toBe(0);
    await rm(stateDir, { recursive: true, force: true });
  }
}, 320_000);

describe('coordinator faults on the lab, through the kip CLI', () => {
  it(`(a) kip upgrade killed with SIGKILL mid-step, then kip resume: ${FROM} -> ${MID}, no node upgraded twice or skipped, no container restarted`, async () => {
    const s = lab();
    // every kubelet and kube-proxy the path needs, onto every agent (kip upgrade --releases stages only kubelets)
    const staged = await kip(['stage', '--to', TO, '--releases', s.kip!.releases, ...kipCommon()], 900_000);
    expect(staged.exitCode, staged.stdout + staged.stderr).toBe(0);
    const before = await allContainerIds();
    expect(before.size).toBeGreaterThan(0);
    const up = startKip(['upgrade', '--to', MID, '--plan', 'every-step', '--max-concurrency', '1', '--canary', '0', '--releases', s.kip!.releases, ...kipCommon()]);
    let last: Status | undefined;
    // mid-step: a worker's kubelet run handed to its agent, not finished
    const inFlight = await waitFor('a worker upgrading with an agent run', async () => {
      last = await runningStatus(MID);
      return last?.run.target === MID ? last.nodes.find((n) => n.phase === 'upgrading' && n.agentRunId !== '') : undefined;
    }, 900_000, () => JSON.stringify(last));
    up.kill();
    const killed = await up.done;
    expect(killed.signal, killed.out).toBe('SIGKILL');
    const atKill = await status();
    expect(atKill?.run.phase, JSON.stringify(atKill)).toBe('running');

    const resumed = await kip(['resume', ...kipCommon()], 1_800_000);
    expect(resumed.exitCode, resumed.stdout + resumed.stderr).toBe(0);
    const end = await status();
    expect(end?.run.phase, JSON.stringify(end)).toBe('succeeded');
    expect(end!.nodes.map((n) => [n.node, n.phase]).sort()).toEqual(WORKERS.map((w) => [w, 'succeeded']));
    // the node in flight at the kill kept its agent run: the resume followed it, did not start another
    expect(end!.nodes.find((n) => n.node === inFlight.node)?.agentRunId).toBe(inFlight.agentRunId);
    for (const w of WORKERS) {
      const runs = await agentKubeletRuns(w, MID);
      expect(runs, `${w}: the agent's kubelet runs to ${MID}`).toHaveLength(1);
      const a = await agent(w);
      try {
        const rec = end!.nodes.find((n) => n.node === w)!;
        const run = await a.getRun(rec.agentRunId);
        expect(run.toVersion).toBe(MID);
        expect(String(run.phase)).toMatch(/SUCCEEDED/);
        expect((await a.getNode()).kubeletVersion).toBe(MID);
      } finally {
        a.close();
      }
    }
    // judged from containerd: every container the same id
    const after = await waitFor('every container running again', async () => {
      const m = await allContainerIds();
      return m.size >= before.size ? m : undefined;
    }, 180_000);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [k, id] of before) expect(after.get(k), k).toBe(id);
  }, 3_600_000);

  it(`(c) a container stopped by hand while a worker's step to ${TO} is in flight pauses the run, the reason naming it`, async () => {
    const s = lab();
    const up = startKip(['upgrade', '--to', TO, '--plan', 'every-step', '--max-concurrency', '1', '--canary', '0', '--releases', s.kip!.releases, ...kipCommon()]);
    try {
      let last: Status | undefined;
      const inFlight = await waitFor(`a worker upgrading to ${TO}`, async () => {
        last = await runningStatus(TO);
        return last?.run.target === TO ? last.nodes.find((n) => n.phase === 'upgrading') : undefined;
      }, 900_000, () => JSON.stringify(last));
      // a long-running container of a plain pod on that worker (not the selector case, not static)
      const ids = await containerIds(inFlight.node);
      const victim = [...ids.keys()].find((k) => !k.includes(SELECTOR_POD.name) && !k.includes('kube-proxy') && k.split('/')[1] !== 'kube-system')!;
      expect(victim, [...ids.keys()].join('\n')).toBeDefined();
      const containerName = victim.split('/')[3]!;
      const cri = createCriClient({ address: `unix://${node(inFlight.node).containerd!.socket}` });
      try {
        await cri.stopContainer(ids.get(victim)!, 0);
      } finally {
        cri.close();
      }
      const paused = await waitFor('the run paused', async () => {
        last = await status().catch(() => undefined);
        return last?.run.phase === 'paused' ? last : undefined;
      }, 1_200_000, () => JSON.stringify(last));
      expect(paused.run.reason ?? '', JSON.stringify(paused)).toContain(containerName);
      const exited = await up.done;
      expect(exited.code, exited.out).not.toBe(0);
    } finally {
      up.kill();
      await up.done;
    }
  }, 3_600_000);
});
