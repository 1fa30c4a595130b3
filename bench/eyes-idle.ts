/**
 * Part 2 of the eyes bench (issue 11; issue 12's cold start and idle figures on the host): the
 * whole kip-agent as a process, idle, with 500 running containers on a private containerd (25
 * pods x 20 containers, CRI), its node watcher at the default 1 s poll: RSS and CPU over
 * KIP_BENCH_EYES_IDLE_S (20) seconds after a 10 s settle, and spawn -> READY=1 on a private
 * $NOTIFY_SOCKET; the built artifact (dist/kip-agent-linux-x64, built by `npm run package` when
 * missing) and the checkout (bin/kip-agent.mjs through tsx) side by side, alternating.
 * On this host systemd is not PID 1: the agent's `systemctl show` of the kubelet unit fails fast
 * each poll (a real node answers it; the agent retries it after 1-10 s, agent/watch/kubelet-probe.ts);
 * both variants pay the same. Both run with the NODE_OPTIONS of scripts/systemd/kip-agent.service.
 */
import { mkdir, rm, stat } from 'node:fs/promises';
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

export async function ensureArtifact(): Promise<string> {
  const sea = join(REPO, 'dist', 'kip-agent-linux-x64');
  if (!(await stat(sea).then(() => true, () => false))) {
    const r = await execaExec('npx', ['tsx', 'scripts/package/build.ts'], { timeoutMs: 900_000, cwd: REPO });
    if (r.exitCode !== 0) throw new Error(`npm run package failed: ${r.stderr}`);
  }
  return sea;
}

export async function runEyesIdle(tmp: string, pki: TestPki): Promise<void> {
  const sea = await ensureArtifact();
  // KIP_BENCH_EYES_NODE_OPTIONS overrides the unit's (e.g. '' for V8's defaults, to compare).
  const nodeOptions = process.env.KIP_BENCH_EYES_NODE_OPTIONS ?? (await agentUnitNodeOptions()).join(' ');
  const ctd = await startContainerd({ dir: join(tmp, 'containerd-idle') });
  const cri = createCriClient({ address: ctd.address, timeoutMs: 60_000 });
  try {
    const t0 = performance.now();
    let made = 0;
    let nextPod = 0;
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
    process.stdout.write(`idle setup: NODE_OPTIONS=${JSON.stringify(nodeOptions)} (the unit's) for both variants\n`);
    process.stdout.write(`idle setup: ${running} running containers in ${PODS} pods on a private containerd (${((performance.now() - t0) / 1000).toFixed(0)} s to create ${made})\n`);

    const variants = [
      { label: 'artifact (dist/kip-agent-linux-x64)', cmd: sea, args: [] as string[] },
      { label: 'checkout (node bin/kip-agent.mjs, tsx)', cmd: process.execPath, args: [join(REPO, 'bin/kip-agent.mjs')] },
    ];
    const size = (await stat(sea)).size;
    for (let r = 0; r < ROUNDS; r++) {
      for (const v of variants) {
        const dir = join(tmp, `agent-${r}-${v.label.slice(0, 8)}`);
        await mkdir(join(dir, 'root'), { recursive: true });
        const port = await freePort();
        const notify = await notifyListener(join(dir, 'notify.sock'));
        const args = [...v.args, '--listen', `127.0.0.1:${port}`, '--tls-ca', pki.serverFiles.ca, '--tls-cert', pki.serverFiles.cert, '--tls-key', pki.serverFiles.key,
          '--state-dir', join(dir, 'state'), '--root-prefix', join(dir, 'root'), '--kubelet-unit', 'kip-bench-none.service', '--cri-endpoint', ctd.address, '--node-name', 'bench-idle', '--log-level', 'error'];
        const start = monotonicMs();
        const agent = execa(v.cmd, args, { reject: false, stdio: ['ignore', 'ignore', 'pipe'], env: { NOTIFY_SOCKET: join(dir, 'notify.sock'), KIP_RUNTIME_DIR: join(dir, 'runtime'), NODE_OPTIONS: nodeOptions }, cwd: REPO });
        try {
          const ready = await Promise.race([notify.ready, new Promise<never>((_r, reject) => setTimeout(() => reject(new Error(`${v.label}: no READY=1 within 120 s`)), 120_000))]);
          await new Promise((res) => setTimeout(res, 10_000));
          const s = await idleOf(agent.pid ?? 0, IDLE_S);
          process.stdout.write(`agent idle, 500 containers, ${v.label}: RSS ${s.rssMiB.toFixed(1)} MiB (${s.processes} process${s.processes > 1 ? 'es' : ''}; main ${s.mainRssMiB.toFixed(1)} MiB) | CPU ${s.cpuPct.toFixed(2)} % of a core over ${s.seconds.toFixed(0)} s (goal under 80 MB, under 1 %) | spawn -> READY=1 ${(ready - start).toFixed(0)} ms\n`);
        } finally {
          agent.kill('SIGTERM');
          const t = setTimeout(() => agent.kill('SIGKILL'), 15_000);
          await agent;
          clearTimeout(t);
          await notify.close();
        }
      }
    }
    process.stdout.write(`artifact size ${(size / 2 ** 20).toFixed(1)} MiB\n`);
  } finally {
    cri.close();
    await ctd.stop();
  }
}
