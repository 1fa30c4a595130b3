/**
 * Part 2 of the eyes bench (issue 11; issue 12's cold start and idle figures on the host): the
 * whole kip-agent as a process, idle, with 500 running containers on a private containerd (25
 * pods x 20 containers, CRI), its node watcher at the default 1 s poll: RSS and CPU over
 * KIP_BENCH_EYES_IDLE_S (20) seconds after a KIP_BENCH_EYES_IDLE_SETTLE_S (10) s settle, and spawn -> READY=1 on a private
 * $NOTIFY_SOCKET; the built artifact (dist/kip-agent-linux-x64, built by `npm run package` when
 * missing) and the checkout (bin/kip-agent.mjs through tsx) side by side, alternating.
 * On this host systemd is not PID 1: the agent's `systemctl show` of the kubelet unit fails fast
 * each poll (a real node answers it; the agent retries it after 1-10 s, agent/watch/kubelet-probe.ts);
 * both variants pay the same. Both run with the NODE_OPTIONS of scripts/systemd/kip-agent.service.
 */
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { createCriClient } from '../agent/runtime/cri.ts';
import type { PodSandboxSpec } from '../agent/runtime/types.ts';
import { execaExec } from '../lib/exec.ts';
import { agentUnitNodeOptions } from '../scripts/package/build.ts';
import { startContainerd } from '../scripts/containerd/containerd.ts';
import { freePort, REPO } from '../scripts/nspawn/agent-node.ts';
import type { TestPki } from '../scripts/nspawn/test-pki.ts';
import { idleOf, monotonicMs, notifyListener } from './proc-sample.ts';

const PODS = 25;
const PER_POD = 20;
const IDLE_S = Number(process.env.KIP_BENCH_EYES_IDLE_S ?? 20);
const ROUNDS = Number(process.env.KIP_BENCH_EYES_IDLE_ROUNDS ?? 1);
// After READY=1, before sampling. The first minute is not idle yet: V8 tiers the poll's code up and
// its memory reducer runs full GCs (a 2-3 % burst at about 20 s after start, measured in 5 s
// windows), so a 10 s settle samples start-up tail; 60 s samples the steady state.
const SETTLE_S = Number(process.env.KIP_BENCH_EYES_IDLE_SETTLE_S ?? 10);

/** One agent to measure: its executable and arguments before the agent's own, and its NODE_OPTIONS. */
export interface IdleVariant {
  readonly label: string;
  readonly cmd: string;
  readonly args?: readonly string[];
  /** Default: the unit's (or KIP_BENCH_EYES_NODE_OPTIONS). */
  readonly nodeOptions?: string;
  /** More environment (e.g. MALLOC_ARENA_MAX), on top of the unit's Environment= lines. */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * KIP_BENCH_EYES_IDLE_VARIANTS (a JSON array of IdleVariant) replaces the artifact/checkout pair:
 * e.g. the previous build against this one, each with its own NODE_OPTIONS, alternating per round;
 * ratios are taken against the first variant, pair by pair within a round.
 */
function variantsFromEnv(): IdleVariant[] | undefined {
  const raw = process.env.KIP_BENCH_EYES_IDLE_VARIANTS;
  if (!raw) return undefined;
  const v: unknown = JSON.parse(raw);
  if (!Array.isArray(v) || v.length === 0 || !v.every((x: unknown) => typeof x === 'object' && x !== null && typeof (x as IdleVariant).label === 'string' && typeof (x as IdleVariant).cmd === 'string')) {
    throw new Error('KIP_BENCH_EYES_IDLE_VARIANTS: a JSON array of {"label": string, "cmd": string, "args"?: string[], "nodeOptions"?: string}');
  }
  return v as IdleVariant[];
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};
const spread = (xs: readonly number[], digits: number) => `median ${median(xs).toFixed(digits)} (min ${Math.min(...xs).toFixed(digits)}, max ${Math.max(...xs).toFixed(digits)}, n=${xs.length})`;

export async function ensureArtifact(): Promise<string> {
  const sea = join(REPO, 'dist', 'kip-agent-linux-x64');
  if (!(await stat(sea).then(() => true, () => false))) {
    const r = await execaExec('npx', ['tsx', 'scripts/package/build.ts'], { timeoutMs: 900_000, cwd: REPO });
    if (r.exitCode !== 0) throw new Error(`npm run package failed: ${r.stderr}`);
  }
  return sea;
}

/** The unit's Environment=NAME=value lines other than NODE_OPTIONS (agentUnitNodeOptions has that). */
async function unitEnvironment(): Promise<Record<string, string>> {
  const unit = await readFile(join(REPO, 'scripts', 'systemd', 'kip-agent.service'), 'utf8');
  const out: Record<string, string> = {};
  for (const m of unit.matchAll(/^Environment=([A-Z_][A-Z0-9_]*)=(.*)$/gm)) if (m[1] && m[1] !== 'NODE_OPTIONS') out[m[1]] = m[2] ?? '';
  return out;
}

export async function runEyesIdle(tmp: string, pki: TestPki): Promise<void> {
  const sea = await ensureArtifact();
  // KIP_BENCH_EYES_NODE_OPTIONS overrides the unit's (e.g. '' for V8's defaults, to compare).
  const nodeOptions = process.env.KIP_BENCH_EYES_NODE_OPTIONS ?? (await agentUnitNodeOptions()).join(' ');
  const unitEnv = await unitEnvironment();
  // KIP_BENCH_CRI_ADDRESS: a private containerd that already runs the 500 containers (made by an
  // earlier run of this set-up; creating them takes minutes on a loaded machine).
  const given = process.env.KIP_BENCH_CRI_ADDRESS;
  const ctd = given ? { address: given, images: { busybox: '' }, stop: async () => undefined } : await startContainerd({ dir: join(tmp, 'containerd-idle') });
  const cri = createCriClient({ address: ctd.address, timeoutMs: 60_000 });
  try {
    const t0 = performance.now();
    let made = 0;
    let nextPod = given ? PODS : 0;
    await Promise.all(Array.from({ length: 5 }, async () => {
      while (nextPod < PODS) {
        const p = nextPod++;
        const uid = `uid-idle-${p}`;
        const spec: PodSandboxSpec = { name: `idle-${p}`, uid, namespace: 'default', attempt: 0, labels: { 'io.kubernetes.pod.name': `idle-${p}`, 'io.kubernetes.pod.namespace': 'default', 'io.kubernetes.pod.uid': uid } };
        const sb = await cri.runPodSandbox(spec);
        for (let c = 0; c < PER_POD; c++) {
          const id = await cri.createContainer(sb, { name: `c${c}`, attempt: 0, image: ctd.images.busybox, command: ['/bin/sleep', '36000'], labels: { ...spec.labels, 'io.kubernetes.container.name': `c${c}` }, annotations: { 'io.kubernetes.container.restartCount': '0' } }, spec);
          await cri.startContainer(id);
          made++;
        }
      }
    }));
    const running = (await cri.listContainers()).filter((c) => c.state === 'running').length;
    process.stdout.write(`idle setup: NODE_OPTIONS=${JSON.stringify(nodeOptions)} and ${JSON.stringify(unitEnv)} (the unit's) unless a variant says otherwise\n`);
    process.stdout.write(`idle setup: ${running} running containers in ${PODS} pods on a private containerd (${((performance.now() - t0) / 1000).toFixed(0)} s to create ${made})\n`);

    const variants: IdleVariant[] = variantsFromEnv() ?? [
      { label: 'artifact (dist/kip-agent-linux-x64)', cmd: sea, args: [] as string[] },
      { label: 'checkout (node bin/kip-agent.mjs, tsx)', cmd: process.execPath, args: [join(REPO, 'bin/kip-agent.mjs')] },
    ];
    const size = (await stat(sea)).size;
    const figures = variants.map(() => ({ rss: [] as number[], main: [] as number[], pss: [] as number[], cpu: [] as number[], ready: [] as number[] }));
    for (let r = 0; r < ROUNDS; r++) {
      for (const [vi, v] of variants.entries()) {
        const dir = join(tmp, `agent-${r}-${vi}`);
        await mkdir(join(dir, 'root'), { recursive: true });
        const port = await freePort();
        const notify = await notifyListener(join(dir, 'notify.sock'));
        const args = [...(v.args ?? []), '--listen', `127.0.0.1:${port}`, '--tls-ca', pki.serverFiles.ca, '--tls-cert', pki.serverFiles.cert, '--tls-key', pki.serverFiles.key,
          '--state-dir', join(dir, 'state'), '--root-prefix', join(dir, 'root'), '--kubelet-unit', 'kip-bench-none.service', '--cri-endpoint', ctd.address, '--node-name', 'bench-idle', '--log-level', 'error'];
        const start = monotonicMs();
        const agent = execa(v.cmd, args, { reject: false, stdio: ['ignore', 'ignore', 'pipe'], env: { ...unitEnv, ...v.env, NOTIFY_SOCKET: join(dir, 'notify.sock'), KIP_RUNTIME_DIR: join(dir, 'runtime'), NODE_OPTIONS: v.nodeOptions ?? nodeOptions }, cwd: REPO });
        try {
          const ready = await Promise.race([notify.ready, new Promise<never>((_r, reject) => setTimeout(() => reject(new Error(`${v.label}: no READY=1 within 120 s`)), 120_000))]);
          await new Promise((res) => setTimeout(res, SETTLE_S * 1000));
          const s = await idleOf(agent.pid ?? 0, IDLE_S);
          const f = figures[vi];
          f?.rss.push(s.rssMiB); f?.main.push(s.mainRssMiB); f?.pss.push(s.mainPssMiB); f?.cpu.push(s.cpuPct); f?.ready.push(ready - start);
          process.stdout.write(`agent idle, 500 containers, round ${r + 1}/${ROUNDS}, ${v.label}: RSS ${s.rssMiB.toFixed(1)} MiB (${s.processes} process${s.processes > 1 ? 'es' : ''}; main ${s.mainRssMiB.toFixed(1)} MiB, PSS ${s.mainPssMiB.toFixed(1)} MiB) | CPU ${s.cpuPct.toFixed(2)} % of a core over ${s.seconds.toFixed(0)} s (goal under 80 MB, under 1 %) | spawn -> READY=1 ${(ready - start).toFixed(0)} ms\n`);
        } finally {
          agent.kill('SIGTERM');
          const t = setTimeout(() => agent.kill('SIGKILL'), 15_000);
          await agent;
          clearTimeout(t);
          await notify.close();
        }
      }
    }
    for (const [vi, v] of variants.entries()) {
      const f = figures[vi];
      const base = figures[0];
      if (!f || !base) continue;
      const ratio = (xs: number[], ys: number[]) => median(xs.map((x, i) => x / (ys[i] ?? Number.NaN)));
      process.stdout.write(`summary ${v.label} (NODE_OPTIONS=${JSON.stringify(v.nodeOptions ?? nodeOptions)}): main RSS MiB ${spread(f.main, 1)}; tree RSS MiB ${spread(f.rss, 1)}; main PSS MiB ${spread(f.pss, 1)}; CPU % of a core ${spread(f.cpu, 2)}; READY ms ${spread(f.ready, 0)}` +
        (vi > 0 ? ` | vs ${variants[0]?.label}, median of per-round ratios: main RSS ${ratio(f.main, base.main).toFixed(2)}x, CPU ${ratio(f.cpu, base.cpu).toFixed(2)}x` : '') + '\n');
    }
    process.stdout.write(`artifact size ${(size / 2 ** 20).toFixed(1)} MiB\n`);
  } finally {
    cri.close();
    await ctd.stop();
  }
}
