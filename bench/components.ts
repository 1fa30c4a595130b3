/**
 * Per node component (issue 9, "Numbers"): downtime of the agent's swap (stop step started ->
 * the first healthy answer its verify step saw, agent clock) against the component's own plain
 * restart (`systemctl restart` -> health ok, timed inside the node) in the same run, for
 * kube-apiserver, kube-controller-manager, kube-scheduler and kube-proxy stand-ins
 * (scripts/nspawn/stand-ins.ts) as systemd units under a real systemd (nspawn), driven over
 * gRPC + mutual TLS as the coordinator does; figures as ratios (swap / restart), as bench/agent.ts
 * does for the kubelet. Per component and round: restart, upgrade v1.15.3 -> v1.16.2, restart,
 * Rollback; one unmeasured warm-up round per component first.
 *
 * Also the agent's own restart (`systemctl kill -s KILL` -> GetNode answers over mTLS) from its
 * esbuild bundle against the same agent through tsx (bin/kip-agent.mjs): what a kill -9 in the
 * nspawn crash matrix costs (test/integration/components-upgrade-nspawn.test.ts).
 *
 * Environment: KIP_BENCH_COMPONENTS_ROUNDS (default 5), KIP_BENCH_COMPONENTS_RESTARTS (agent
 * restarts per mode, default 3). Runs as root (nspawn); not part of `npm test`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { AGENT_BUNDLE_IN_NODE, REPO, bootAgentNode, buildAgentBundle, freePort, sha256, type AgentNode } from '../scripts/nspawn/agent-node.ts';
import { STAND_IN_NAMES, standInBinary, standInComponent, standInHealthPath, standInUnit, type StandInName } from '../scripts/nspawn/stand-ins.ts';
import type { StepEvent } from '../coordinator/fleet/client.ts';
import { BenchDataError, envInt, figures, median, ms, restartScript, swapTiming, type SwapTiming } from './agent-stats.ts';

const OLD = 'v1.15.3';
const NEW = 'v1.16.2';

async function plainRestart(an: AgentNode, name: StandInName, port: number): Promise<number> {
  const r = await an.node.exec('python3', ['-c', restartScript(`${name}.service`, `http://127.0.0.1:${port}${standInHealthPath(name)}`)], { timeoutMs: 90_000 });
  const v = Number(r.stdout.trim());
  if (r.exitCode !== 0 || !Number.isFinite(v)) throw new BenchDataError(`restart of ${name} failed (${String(r.exitCode)}): ${r.stderr}${r.stdout}\n${await an.logs()}`);
  return v;
}

async function upgrade(an: AgentNode, name: StandInName, runId: string): Promise<StepEvent[]> {
  const events: StepEvent[] = [];
  for await (const e of an.client.upgrade({ runId, targetVersion: NEW, component: name })) events.push(e);
  const last = events.at(-1);
  if (last?.phase !== 'RUN_SUCCEEDED') throw new BenchDataError(`upgrade ${runId} ended ${last?.phase ?? 'without events'}: ${last?.message ?? ''}\n${await an.logs()}`);
  return events;
}

async function rollback(an: AgentNode, runId: string): Promise<StepEvent[]> {
  const run = await an.client.rollback(runId);
  if (run.phase !== 'RUN_ROLLED_BACK') throw new BenchDataError(`rollback of ${runId} ended ${run.phase}: ${run.errorMessage}\n${await an.logs()}`);
  return run.events;
}

/** kill -9 of the agent's main process -> a new process answers GetNode over mTLS (host clock). */
async function agentRestart(an: AgentNode): Promise<number> {
  const pid = await an.mainPid('kip-agent.service');
  const t = performance.now();
  await an.sh('systemctl kill -s KILL kip-agent.service');
  await an.waitFor('a new agent process', async () => {
    const p = await an.mainPid('kip-agent.service');
    return p !== 0 && p !== pid ? p : undefined;
  }, 120_000);
  await an.waitAgentUp(120_000);
  return performance.now() - t;
}

/** Points the agent unit at the bundle or at bin/kip-agent.mjs (tsx), restarts it and waits. */
async function agentMode(an: AgentNode, mode: 'bundle' | 'tsx'): Promise<void> {
  const entry = mode === 'bundle' ? AGENT_BUNDLE_IN_NODE : `${REPO}/bin/kip-agent.mjs`;
  const dropIn = path.join(an.node.root, 'etc/systemd/system/kip-agent.service.d/mode.conf');
  await writeFile(dropIn, `[Service]\nExecStart=\nExecStart=${process.execPath} ${entry} --config /etc/kip/agent.yaml\n`);
  await an.sh('systemctl daemon-reload && systemctl restart kip-agent.service');
  await an.waitAgentUp(120_000);
}

export async function runComponentsBench(): Promise<void> {
  const rounds = envInt('KIP_BENCH_COMPONENTS_ROUNDS', 5, 1);
  const agentRestarts = envInt('KIP_BENCH_COMPONENTS_RESTARTS', 3, 1);
  const out = (s: string) => process.stdout.write(s);
  const bundleDir = await mkdtemp(path.join(tmpdir(), 'kip-bench-components-'));
  const t0 = performance.now();
  const an = await bootAgentNode({
    name: 'kip-bench-components', kubeletVersion: OLD, stableMs: 300, pollMs: 50, verifyTimeoutMs: 30_000, logLevel: 'info',
    agentBundle: await buildAgentBundle(bundleDir),
    agentServiceExtra: ['RestartSec=100ms'],
  });
  const onSignal = (sig: NodeJS.Signals) => {
    void an.stop().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const bootMs = performance.now() - t0;
    const ports = new Map<StandInName, number>();
    for (const name of STAND_IN_NAMES) {
      const port = await freePort();
      ports.set(name, port);
      await writeFile(path.join(an.node.root, standInBinary(name)), standInComponent(name, OLD), { mode: 0o755 });
      await writeFile(path.join(an.node.root, `etc/systemd/system/${name}.service`), standInUnit(name, port));
    }
    await writeFile(path.join(an.node.root, 'etc/systemd/system/kip-agent.service.d/no-start-limit.conf'), '[Unit]\nStartLimitIntervalSec=0\n');
    await an.sh(`systemctl daemon-reload && systemctl start ${STAND_IN_NAMES.map((n) => `${n}.service`).join(' ')}`);
    for (const name of STAND_IN_NAMES) {
      const data = standInComponent(name, NEW);
      await an.client.stageBinary({ version: NEW, sha256: sha256(data), size: data.length, component: name }, data);
      await plainRestart(an, name, ports.get(name) ?? 0);
    }

    const rows: string[] = [];
    const ratios: number[] = [];
    for (const name of STAND_IN_NAMES) {
      const port = ports.get(name) ?? 0;
      await plainRestart(an, name, port);
      await upgrade(an, name, `${name}-warmup`);
      await rollback(an, `${name}-warmup`);
      const restarts: number[] = [];
      const swaps: SwapTiming[] = [];
      for (let i = 0; i < rounds; i++) {
        const runId = `${name}-${i + 1}`;
        restarts.push(await plainRestart(an, name, port));
        swaps.push(swapTiming(await upgrade(an, name, runId), 'upgrade'));
        restarts.push(await plainRestart(an, name, port));
        swaps.push(swapTiming(await rollback(an, runId), 'rollback'));
      }
      const down = swaps.map((t) => t.downtimeMs);
      const part = (k: keyof SwapTiming) => ms(median(swaps.map((t) => t[k])));
      const ratio = median(down) / median(restarts);
      ratios.push(ratio);
      rows.push(`${name}: swap downtime ${figures(down)} | plain restart ${figures(restarts)} | swap/restart ${ratio.toFixed(2)}x (n=${down.length} each, interleaved)\n`);
      rows.push(`  ${name} swap breakdown (medians): stop ${part('stopMs')} | swap + journal ${part('swapMs')} | daemon-reload + start ${part('startMs')} | start -> first healthy ${part('toHealthyMs')}\n`);
    }
    for (const r of rows) out(r);
    out(`all four: swap/restart median ${median(ratios).toFixed(2)}x, worst ${Math.max(...ratios).toFixed(2)}x\n`);

    const times: Record<'bundle' | 'tsx', number[]> = { bundle: [], tsx: [] };
    for (const mode of ['bundle', 'tsx', 'bundle', 'tsx'] as const) {
      await agentMode(an, mode);
      for (let i = 0; i < Math.ceil(agentRestarts / 2); i++) times[mode].push(await agentRestart(an));
    }
    out(`agent restart (kill -9 -> GetNode over mTLS, RestartSec=100ms): bundle ${figures(times.bundle)} | tsx ${figures(times.tsx)} | bundle/tsx ${(median(times.bundle) / median(times.tsx)).toFixed(2)}x (n=${times.bundle.length} each)\n`);
    out(`setup: agent pollMs 50, stableMs 300 | node boot ${ms(bootMs)} | host load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}\n`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await an.stop();
    await rm(bundleDir, { recursive: true, force: true });
  }
}
