/**
 * The packaged artifacts (issue 12, "Numbers"), all in the same run: size of dist/kip-agent-linux-x64
 * (SEA) and of the self-extracting alternative (.sfx); per variant, in its own nspawn node, the cold
 * start (`systemctl restart` -> first GetNode answered from the host; for the Type=notify
 * artifacts also -> READY, i.e. `systemctl restart` returning) and the idle RSS/CPU; and `kip --help`
 * cold start (SEA, sfx, bundle on node, checkout through tsx). Builds with `npm run package -- --sfx`
 * first when dist/ is missing. Variant "tsx" is the checkout run by the harness' own unit
 * (Type=simple, host node bound in).
 *
 * On the host too, without systemd: spawn -> READY=1 on a private $NOTIFY_SOCKET (bench/proc-sample.ts)
 * for the SEA and the checkout, alternating, the agent pointed at no runtime and no kubelet unit.
 *
 * Environment: KIP_BENCH_PACKAGE_ROUNDS (default 5), KIP_BENCH_PACKAGE_VARIANTS (comma list of
 * labels: 'checkout (tsx)', SEA, sfx; default all), KIP_BENCH_PACKAGE_NSPAWN=0 (host figures only).
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { execaExec } from '../lib/exec.ts';
import { bootAgentNode, REPO, type AgentNode } from '../scripts/nspawn/agent-node.ts';
import { idleSample } from './agent.ts';
import { median } from './agent-stats.ts';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { execa } from 'execa';
import { freePort } from '../scripts/nspawn/agent-node.ts';
import { makeTestPki } from '../scripts/nspawn/test-pki.ts';
import { monotonicMs, notifyListener } from './proc-sample.ts';

const DIST = path.join(REPO, 'dist');
const rounds = Number(process.env.KIP_BENCH_PACKAGE_ROUNDS ?? 5);
const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;

async function exists(p: string): Promise<boolean> {
  return stat(p).then(() => true, () => false);
}

async function coldStarts(an: AgentNode): Promise<{ getNodeMs: number; readyMs: number }> {
  const g: number[] = [];
  const r: number[] = [];
  for (let i = 0; i < rounds; i++) {
    await an.sh('systemctl stop kip-agent.service');
    const t0 = performance.now();
    const out = await an.sh('a=$(date +%s%N); systemctl start kip-agent.service; b=$(date +%s%N); echo $(( (b - a) / 1000000 ))', 90_000);
    r.push(Number(out.trim()));
    await an.waitFor('GetNode', async () => (await an.client.getNode().then((n) => n.nodeName, () => undefined)), 60_000);
    g.push(performance.now() - t0);
  }
  return { getNodeMs: median(g), readyMs: median(r) };
}

async function helpStart(cmd: string, args: string[]): Promise<number> {
  const t: number[] = [];
  for (let i = 0; i < rounds + 1; i++) {
    const r = await execaExec(cmd, args, { timeoutMs: 30_000, env: { ...process.env, KIP_RUNTIME_DIR: '/tmp/kip-bench-runtime' } as Record<string, string> });
    if (r.exitCode !== 0) throw new Error(`${cmd} --help failed: ${r.stderr}`);
    if (i > 0) t.push(r.durationMs); // the first run warms the page cache (and unpacks the sfx)
  }
  return median(t);
}

/** spawn -> READY=1 on the host, SEA and checkout alternating; median of `rounds` each. */
async function hostReady(sea: string): Promise<string> {
  const tmp = await mkdtemp(path.join(tmpdir(), 'kip-bench-ready-'));
  try {
    const pki = await makeTestPki(path.join(tmp, 'pki'));
    const variants = [{ label: 'SEA', cmd: sea, args: [] as string[] }, { label: 'checkout (tsx)', cmd: process.execPath, args: [path.join(REPO, 'bin/kip-agent.mjs')] }];
    const times = new Map<string, number[]>(variants.map((v) => [v.label, []]));
    for (let i = 0; i < rounds + 1; i++) {
      for (const v of variants) {
        const dir = path.join(tmp, `${i}-${v.label.slice(0, 3)}`);
        await mkdir(path.join(dir, 'root'), { recursive: true });
        const notify = await notifyListener(path.join(dir, 'n.sock'));
        const args = [...v.args, '--listen', `127.0.0.1:${await freePort()}`, '--tls-ca', pki.serverFiles.ca, '--tls-cert', pki.serverFiles.cert, '--tls-key', pki.serverFiles.key,
          '--state-dir', path.join(dir, 'state'), '--root-prefix', path.join(dir, 'root'), '--kubelet-unit', 'kip-bench-none.service', '--cri-endpoint', `unix://${path.join(dir, 'none.sock')}`, '--node-name', 'bench', '--log-level', 'error'];
        const t0 = monotonicMs();
        const agent = execa(v.cmd, args, { reject: false, stdio: 'ignore', env: { NOTIFY_SOCKET: path.join(dir, 'n.sock'), KIP_RUNTIME_DIR: path.join(dir, 'runtime') }, cwd: REPO });
        try {
          const ready = await Promise.race([notify.ready, new Promise<never>((_r, reject) => setTimeout(() => reject(new Error(`${v.label}: no READY=1 within 120 s`)), 120_000))]);
          if (i > 0) times.get(v.label)!.push(ready - t0); // the first round warms the page cache
        } finally {
          agent.kill('SIGTERM');
          const t = setTimeout(() => agent.kill('SIGKILL'), 15_000);
          await agent;
          clearTimeout(t);
          await notify.close();
        }
      }
    }
    const sea0 = median(times.get('SEA')!);
    const co = median(times.get('checkout (tsx)')!);
    return `agent spawn -> READY=1 on the host (NOTIFY_SOCKET, median of ${rounds}, alternating): SEA ${sea0.toFixed(0)} ms | checkout (tsx) ${co.toFixed(0)} ms | SEA / checkout ${(sea0 / co).toFixed(2)}x\n`;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

export async function runPackageBench(): Promise<void> {
  const sea = path.join(DIST, 'kip-agent-linux-x64');
  if (!(await exists(sea)) || !(await exists(`${sea}.sfx`))) {
    const r = await execaExec('npx', ['tsx', 'scripts/package/build.ts', '--sfx'], { timeoutMs: 600_000, cwd: REPO });
    if (r.exitCode !== 0) throw new Error(`npm run package failed: ${r.stderr}`);
  }
  for (const f of ['kip-agent-linux-x64', 'kip-agent-linux-x64.sfx', 'kip', 'kip.sfx', 'bundle/kip-agent-linux-x64.cjs', 'bundle/kip.cjs']) {
    process.stdout.write(`size ${f}: ${mib((await stat(path.join(DIST, f))).size)}\n`);
  }
  process.stdout.write(`kip --help (median of ${rounds}, warm cache): SEA ${(await helpStart(path.join(DIST, 'kip'), ['--help'])).toFixed(0)} ms | sfx ${(await helpStart(path.join(DIST, 'kip.sfx'), ['--help'])).toFixed(0)} ms | node bundle ${(await helpStart(process.execPath, [path.join(DIST, 'bundle/kip.cjs'), '--help'])).toFixed(0)} ms | checkout (tsx) ${(await helpStart(process.execPath, [path.join(REPO, 'bin/kip.mjs'), '--help'])).toFixed(0)} ms\n`);
  process.stdout.write(await hostReady(sea));
  if (process.env.KIP_BENCH_PACKAGE_NSPAWN === '0') return;
  const variants: { label: string; artifact?: string; extra?: string[] }[] = [
    { label: 'checkout (tsx)' },
    { label: 'SEA', artifact: sea },
    { label: 'sfx', artifact: `${sea}.sfx`, extra: ['Environment=KIP_RUNTIME_DIR=/var/lib/kip-agent/runtime'] },
  ];
  const only = (process.env.KIP_BENCH_PACKAGE_VARIANTS ?? '').split(',').filter((x) => x !== '');
  for (const v of variants.filter((x) => only.length === 0 || only.includes(x.label))) {
    const an = await bootAgentNode({ name: `kip-bench-pkg-${v.label.replace(/\W+/g, '')}`.slice(0, 30), kubeletVersion: 'v1.10.13', logLevel: 'info', ...(v.artifact ? { artifact: v.artifact } : {}), ...(v.extra ? { agentServiceExtra: v.extra } : {}) });
    try {
      const c = await coldStarts(an);
      await new Promise((r) => setTimeout(r, 10_000));
      const s = await idleSample(an);
      const ready = v.artifact ? `, to READY ${c.readyMs.toFixed(0)} ms` : '';
      process.stdout.write(`agent ${v.label}: cold start to first GetNode ${c.getNodeMs.toFixed(0)} ms${ready} (median of ${rounds}) | idle VmRSS ${(s.rssKiB / 1024).toFixed(1)} MiB (peak ${(s.hwmKiB / 1024).toFixed(1)}) | CPU ${s.cpuPct.toFixed(2)}% | ${s.cgroup}\n`);
    } finally {
      await an.stop();
    }
  }
}
