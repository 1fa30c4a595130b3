/**
 * End to end (issue 10, "Tests"): faults around the coordinator on one small lab (control plane +
 * 2 containerd workers at v1.13.12, patched kubelets, real kip-agents under systemd), driven
 * through the `kip` CLI as a user runs it (bin/kip.mjs as a child process, with the kubeconfig,
 * STATE/kip/pki, STATE/kip/inventory.yaml and STATE/releases the lab writes). In sequence:
 *  (a) `kip upgrade --to v1.14.10` is killed with SIGKILL while a worker's kubelet step is in
 *      flight; `kip resume` finishes the run: every node's agent journal holds exactly one kubelet
 *      run to v1.14.10 (none upgraded twice, none skipped) and containerd shows every container
 *      with the same id;
 *  (b) `kip upgrade --to v1.15.12` from a releases folder whose v1.15.12 kubelet exits at once
 *      when started: the worker's agent rolls it back by itself and the run pauses saying so;
 *      `kip rollback` works; the operator fixes the release in that folder and stages it, and
 *      `kip resume` finishes the same run. Judged from the Node objects, the kubelet process
 *      systemd runs on each node, the apiserver's /version and containerd (every container the
 *      same id), besides kip's and the agents' own accounts;
 *  (c) during `kip upgrade --to v1.16.15` a container is stopped by hand on a worker (CRI
 *      StopContainer, as `crictl stop` does) while that worker's step is in flight: the run
 *      pauses and its reason names the container.
 * Every wait is for an event (a kip command's exit, the store through `kip status -o json`, the
 * Node objects, containerd), with generous deadlines: the machine is shared and loaded.
 */
import { spawn } from 'node:child_process';
import { copyFile, cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
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
const LAST = 'v1.16.15';
/** How long a new kubelet has to prove healthy before its agent rolls it back (the agent's default is 120 s; the lab's kubelets are healthy in seconds). */
const VERIFY_TIMEOUT_S = '45';
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

/** Where the time goes, printed as the test runs (phases of a case, seconds since it began). */
function phases(name: string): (what: string) => void {
  const t0 = performance.now();
  return (what) => { process.stderr.write(`[faults ${name}] +${((performance.now() - t0) / 1000).toFixed(1)} s ${what}\n`); };
}

type Exit = { code: number | null; signal: string | null; out: string };

/** `kip upgrade` as a child process the test can SIGKILL; resolves with its exit code/signal and output. */
function startKip(args: string[]): { pid: number; done: Promise<Exit>; kill(): void; ended(): Exit | undefined } {
  const child = spawn(process.execPath, [path.join(REPO, 'bin/kip.mjs'), ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let exit: Exit | undefined;
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const done = new Promise<Exit>((resolve) => child.on('exit', (code, signal) => { exit = { code, signal, out }; resolve(exit); }));
  return { pid: child.pid!, done, kill: () => { child.kill('SIGKILL'); }, ended: () => exit };
}

/** The run's status while `kip upgrade` must still be running it: the process gone, or the run paused or failed, ends the wait at once. */
async function runningStatusOf(up: { ended(): Exit | undefined }, target: string): Promise<Status | undefined> {
  const st = await runningStatus(target);
  const exit = up.ended();
  if (exit) throw new Error(`kip upgrade --to ${target} exited (${exit.code ?? exit.signal}) before the moment the test waits for:\n${exit.out}\n${JSON.stringify(st)}`);
  return st;
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

/** Judged from containerd: once every container of `before` runs again, each has the same id (nothing restarted). */
async function expectSameContainers(before: ReadonlyMap<string, string>): Promise<void> {
  const after = await waitFor('every container running again', async () => {
    const m = await allContainerIds();
    return m.size >= before.size ? m : undefined;
  }, 180_000);
  expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
  for (const [k, id] of before) expect(after.get(k), k).toBe(id);
}

/** The agent's journal on the node: its kubelet runs to `version` (one JSON file per run under /var/lib/kip-agent/runs). */
async function agentKubeletRuns(name: string, version: string): Promise<{ runId: string; toVersion: string; phase: string; component?: string }[]> {
  const raw = await sh(name, 'for f in /var/lib/kip-agent/runs/*.json; do [ -f "$f" ] && cat "$f" && echo "@@END@@"; done');
  return raw.split('@@END@@').filter((t) => t.trim() !== '')
    .map((t) => JSON.parse(t) as { runId: string; toVersion: string; phase: string; component?: string })
    .filter((r) => r.toVersion === version && (r.component ?? 'kubelet') === 'kubelet');
}

/** The Node objects as the apiserver has them: name -> kubeletVersion and Ready. */
async function nodeObjects(): Promise<Map<string, { kubeletVersion: string; ready: boolean }>> {
  const nodes = await KubeClient.fromFile(lab().kubeconfig!).listNodes();
  return new Map(nodes.map((n) => [n.metadata?.name ?? '', {
    kubeletVersion: n.status?.nodeInfo?.kubeletVersion ?? '',
    ready: n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
  }] as const));
}

/** Every worker's Node Ready with kubelet `version` (the wait ends at once with the last look when the deadline passes). */
async function nodesReadyAt(version: string, names: readonly string[] = WORKERS): Promise<void> {
  let seen = '';
  await waitFor(`Nodes ${names.join(', ')} Ready with kubelet ${version}`, async () => {
    const m = await nodeObjects().catch((err: unknown) => { seen = String(err); return undefined; });
    if (!m) return undefined;
    seen = JSON.stringify([...m]);
    return names.every((n) => m.get(n)?.kubeletVersion === version && m.get(n)?.ready) ? true : undefined;
  }, 300_000, () => seen);
}

/**
 * The kubelet version the node's systemd actually runs: the unit active, its main process the
 * launcher, whose child carries the lab kubelet's --lab-kube-version (read from /proc in the node).
 */
async function runningKubelet(name: string): Promise<string> {
  return sh(name, String.raw`state=$(systemctl show -p ActiveState --value kubelet)
[ "$state" = active ] || { echo "kubelet $state"; exit 0; }
pid=$(systemctl show -p MainPID --value kubelet)
for d in /proc/[0-9]*; do
  pp=$(sed 's/^.*) //' "$d/stat" 2>/dev/null | cut -d' ' -f2)
  [ "$pp" = "$pid" ] && tr '\0' '\n' < "$d/cmdline" | sed -n 's/^--lab-kube-version=//p'
done
exit 0`);
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
      last = await runningStatusOf(up, MID);
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
    await expectSameContainers(before);
  }, 3_600_000);

  it(`(b) a ${TO} kubelet that fails to start: its agent rolls it back, the run pauses saying so, kip rollback works, and kip resume (the release fixed) finishes the run with 0 restarts`, async () => {
    const s = lab();
    const mark = phases('b');
    // The run's releases folder: the lab's, except a ${TO} kubelet that answers --version and
    // --help like the good one (the agent checks both, and the patch markers, when staging) and
    // exits 1 when started, as a kubelet refusing its configuration does.
    const releases = path.join(stateDir, 'releases-b');
    await cp(s.kip!.releases, releases, { recursive: true });
    const goodKubelet = path.join(s.kip!.releases, TO, 'kubelet');
    const lines = (await readFile(goodKubelet, 'utf8')).split('\n');
    const afterArgs = lines.indexOf('done');
    expect(afterArgs, lines.join('\n')).toBeGreaterThan(0);
    lines.splice(afterArgs + 1, 0, 'echo "kubelet: refusing to start (broken on purpose by the e2e test)" >&2', 'exit 1');
    await writeFile(path.join(releases, TO, 'kubelet'), lines.join('\n'), { mode: 0o755 });
    const before = await allContainerIds();
    expect(before.size).toBeGreaterThan(0);

    mark('kip upgrade');
    const up = await kip(['upgrade', '--to', TO, '--plan', 'every-step', '--max-concurrency', '1', '--canary', '0', '--releases', releases, '--verify-timeout', VERIFY_TIMEOUT_S, ...kipCommon()], 1_800_000);
    mark(`kip upgrade exited ${up.exitCode}`);
    expect(up.exitCode, up.stdout + up.stderr).toBe(1);
    const paused = await status();
    expect(paused?.run.phase, JSON.stringify(paused)).toBe('paused');
    expect(paused!.run.target).toBe(TO);
    const failed = paused!.nodes.filter((n) => n.phase === 'failed');
    expect(failed.map((n) => n.node), JSON.stringify(paused)).toHaveLength(1);
    const victim = failed[0]!;
    const other = WORKERS.find((w) => w !== victim.node)!;
    // the first failure stopped the run: the other worker was never started
    expect(paused!.nodes.filter((n) => n.node === other && n.agentRunId !== ''), JSON.stringify(paused)).toEqual([]);
    // the reason says which node, which agent run, and that the agent rolled it back
    expect(paused!.run.reason ?? '', JSON.stringify(paused)).toContain(victim.node);
    expect(paused!.run.reason ?? '', JSON.stringify(paused)).toContain(victim.agentRunId);
    expect(paused!.run.reason ?? '', JSON.stringify(paused)).toMatch(/rolled.back/i);
    {
      const a = await agent(victim.node);
      try {
        const run = await a.getRun(victim.agentRunId);
        expect(String(run.phase), JSON.stringify(run)).toMatch(/ROLLED_BACK/);
      } finally {
        a.close();
      }
    }
    // from outside kip: the node runs its ${MID} kubelet again and its Node is Ready with it
    await nodesReadyAt(MID);
    for (const w of WORKERS) expect(await runningKubelet(w), w).toBe(MID);
    expect((await KubeClient.fromFile(s.kubeconfig!).getVersion()).gitVersion).toBe(TO);

    mark('kip rollback');
    const rb = await kip(['rollback', ...kipCommon()], 900_000);
    mark(`kip rollback exited ${rb.exitCode}`);
    expect(rb.exitCode, rb.stdout + rb.stderr).toBe(0);
    expect(rb.stdout).toContain(`${victim.node}: kubelet rolled back`);
    const afterRb = await status();
    expect(afterRb?.run.phase, JSON.stringify(afterRb)).toBe('paused');
    expect(afterRb!.nodes.find((n) => n.node === victim.node)?.phase, JSON.stringify(afterRb)).toBe('rolled-back');
    await nodesReadyAt(MID);
    for (const w of WORKERS) expect(await runningKubelet(w), w).toBe(MID);

    // The operator fixes the release in the run's folder and stages it; kip resume goes on.
    await copyFile(goodKubelet, path.join(releases, TO, 'kubelet'));
    mark('kip stage (the fixed release)');
    const restaged = await kip(['stage', '--to', TO, '--releases', releases, ...kipCommon()], 900_000);
    expect(restaged.exitCode, restaged.stdout + restaged.stderr).toBe(0);
    expect(restaged.stdout, restaged.stdout).toMatch(new RegExp(`${victim.node} +${TO.replace(/\./g, '\\.')} +staged`));
    mark('kip resume');
    const resumed = await kip(['resume', ...kipCommon()], 1_800_000);
    mark(`kip resume exited ${resumed.exitCode}`);
    expect(resumed.exitCode, resumed.stdout + resumed.stderr).toBe(0);
    const end = await status();
    expect(end?.run.phase, JSON.stringify(end)).toBe('succeeded');
    expect(end!.run.id).toBe(paused!.run.id);
    expect(end!.nodes.map((n) => [n.node, n.phase]).sort()).toEqual(WORKERS.map((w) => [w, 'succeeded']));
    const retried = end!.nodes.find((n) => n.node === victim.node)!;
    expect(retried.agentRunId, JSON.stringify(end)).not.toBe(victim.agentRunId);
    // from outside kip: the Node objects, the kubelets systemd runs, the apiserver
    await nodesReadyAt(TO);
    for (const w of WORKERS) expect(await runningKubelet(w), w).toBe(TO);
    expect((await KubeClient.fromFile(s.kubeconfig!).getVersion()).gitVersion).toBe(TO);
    // judged from containerd: the failed start, both rollbacks and the resume restarted nothing
    await expectSameContainers(before);
  }, 3_600_000);

  it(`(c) a container stopped by hand while a worker's step to ${LAST} is in flight pauses the run, the reason naming it`, async () => {
    const s = lab();
    const staged = await kip(['stage', '--to', LAST, '--releases', s.kip!.releases, ...kipCommon()], 900_000);
    expect(staged.exitCode, staged.stdout + staged.stderr).toBe(0);
    const up = startKip(['upgrade', '--to', LAST, '--plan', 'every-step', '--max-concurrency', '1', '--canary', '0', '--releases', s.kip!.releases, ...kipCommon()]);
    try {
      let last: Status | undefined;
      const inFlight = await waitFor(`a worker upgrading to ${LAST}`, async () => {
        last = await runningStatusOf(up, LAST);
        return last?.run.target === LAST ? last.nodes.find((n) => n.phase === 'upgrading') : undefined;
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
