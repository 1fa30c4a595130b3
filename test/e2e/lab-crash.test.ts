/**
 * End to end: the lab supervisor dies (kill -9) while the lab is up; `kip-lab status` says so and
 * `kip-lab down` still removes everything from lab.json alone (nodes, containerd, shims, mounts,
 * cgroups, state dir). One worker, the small workload set.
 */
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execaExec, type ExecResult } from '../../lib/exec.ts';
import { mountsUnder } from '../../scripts/containerd/mounts.ts';
import { shimPids } from '../../scripts/containerd/procs.ts';
import { readLabState, type LabState } from '../../scripts/lab/lab.ts';
import { shimAddressOf } from '../../scripts/lab/node-runtime.ts';

const REPO = path.resolve(import.meta.dirname, '..', '..');
const PREFIX = '127.0.94';
let stateDir = '';
let upResult: ExecResult | undefined;
let state: LabState | undefined;

function kip(args: string[], timeoutMs: number): Promise<ExecResult> {
  return execaExec(process.execPath, [path.join(REPO, 'bin/kip-lab.mjs'), ...args, '--state-dir', stateDir], { timeoutMs, cwd: REPO });
}

async function alive(pid: number): Promise<boolean> {
  return readFile(`/proc/${pid}/stat`, 'utf8').then((t) => !/\) [ZX] /.test(t), () => false);
}

async function processesMentioning(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    const cmd = await readFile(`/proc/${e}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(dir) && (await alive(Number(e)))) out.push(`${e}: ${cmd.replace(/\0/g, ' ')}`);
  }
  return out;
}

beforeAll(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'kip-e2e-crash-'));
  upResult = await kip(['up', '--workers', '1', '--workloads', 'small', '--address-prefix', PREFIX, '--timeout', '240'], 300_000);
  state = await readLabState(stateDir);
}, 320_000);

afterAll(async () => {
  if (stateDir) {
    await kip(['down'], 240_000);
    await rm(stateDir, { recursive: true, force: true });
  }
}, 260_000);

describe('kip-lab after its supervisor was killed', () => {
  it('status reports the lab unhealthy and down cleans up from lab.json', async () => {
    expect(upResult?.exitCode, `${upResult?.stdout}\n${upResult?.stderr}`).toBe(0);
    const s = state;
    if (!s) throw new Error('no lab state');
    const worker = s.nodes.find((n) => n.role === 'worker');
    // the worker's containerd, or dockerd's own containerd (the lab's default puts worker-1 on dockerd)
    const socket = (worker ? shimAddressOf(worker) : undefined) ?? '';
    expect((await shimPids(socket)).length).toBeGreaterThan(0);

    process.kill(s.supervisorPid, 'SIGKILL');
    const deadline = Date.now() + 15_000;
    while ((await alive(s.supervisorPid)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await alive(s.supervisorPid)).toBe(false);

    const st = await kip(['status'], 60_000);
    expect(st.exitCode).toBe(1);
    expect(st.stdout).toContain('supervisor gone');
    expect(st.stdout).toContain('NOT healthy');

    const down = await kip(['down'], 240_000);
    expect(down.exitCode, down.stdout + down.stderr).toBe(0);
    expect(await processesMentioning(stateDir)).toEqual([]);
    for (const n of s.nodes) {
      for (const pid of [n.nspawnPid, n.leaderPid, n.containerd?.pid, n.dockerd?.pid]) if (pid !== undefined) expect(await alive(pid), `${n.name} pid ${pid}`).toBe(false);
      expect(await stat(path.join('/sys/fs/cgroup/unified', n.cgroup ?? 'none')).then(() => true, () => false)).toBe(false);
    }
    expect(await shimPids(socket)).toEqual([]);
    expect(await mountsUnder(stateDir)).toEqual([]);
    expect(await stat(stateDir).then(() => true, () => false)).toBe(false);
    // up works again on the same state dir afterwards (nothing recorded there).
    expect(await readLabState(stateDir)).toBeUndefined();
    // two CLI runs and a sweep of nodes and runtimes: minutes on a loaded machine, not 30 s
  }, 240_000);
});
