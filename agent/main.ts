/**
 * kip-agent's composition root: config -> logger -> ports -> server -> signals. No logic here.
 */
import { readFile } from 'node:fs/promises';
import { execaExec, isolatedExec } from '../lib/exec.ts';
import { auditedExec } from './audit.ts';
import { isKipError } from '../lib/errors.ts';
import { createLogger } from '../lib/logger.ts';
import { helpText, loadAgentConfig } from './config.ts';
import { createAgentHandlers, startAgentServer } from './server.ts';
import { createJournal, createSystemd } from './systemd/index.ts';
import { httpHealth, procfs } from './upgrade/adapters.ts';
import { UpgradeAgent } from './upgrade/agent.ts';
import { FAULT_ENV, faultHookFromEnv } from './upgrade/fault.ts';
import { nodeFileSystem } from './upgrade/fs.ts';
import { systemClock } from '../lib/clock.ts';
import { StageStore } from './upgrade/stage.ts';
import { flagMigrationPort, journalPort, kubeletBinaryPort, systemdPort } from './upgrade/wiring.ts';
import type { AutoRuntime } from './runtime/select.ts';
import { nodeRuntime, startEyes } from './eyes.ts';
import { kubeRestFromKubeconfig, listNodePods, RawKubeApiError } from '../lib/kube/raw.ts';
import type { WorkloadPort } from './upgrade/ports.ts';
import { consistencyPass } from './watch/consistency-loop.ts';
import type { Logger } from '../lib/logger.ts';
import type { AgentConfig } from './config.ts';
import { componentService } from './components-wiring.ts';

async function agentVersion(): Promise<string> {
  const pkg: unknown = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));
  return typeof pkg === 'object' && pkg !== null && typeof (pkg as { version?: unknown }).version === 'string' ? (pkg as { version: string }).version : '0.0.0';
}

export async function main(argv: readonly string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${helpText()}\n`);
    return;
  }
  let config;
  try {
    config = await loadAgentConfig({ argv, env: process.env });
  } catch (err) {
    process.stderr.write(`kip-agent: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
    return;
  }
  const logger = createLogger({ name: 'kip-agent', level: config.logLevel });
  try {
    const fs = nodeFileSystem;
    // Binaries under inspection (installed, staged and uploaded kubelets) run in their own process
    // group, bounded by their timeout, and each run is logged with the caller that caused it.
    const inspect = auditedExec(isolatedExec, logger);
    const kubelet = kubeletBinaryPort(inspect, fs);
    const stage = new StageStore({ fs, kubelet, stateDir: config.stateDir, skipFilePath: config.skipFile, logger, quotaBytes: config.stagingQuotaBytes });
    const runtime = nodeRuntime(config, logger);
    const workload = config.kubeconfig ? await workloadPort(config, runtime) : undefined;
    const agent = new UpgradeAgent(
      { ...config, agentVersion: await agentVersion() },
      {
        fs,
        systemd: systemdPort(createSystemd(execaExec)),
        journal: journalPort(createJournal(execaExec)),
        kubelet,
        flags: flagMigrationPort(inspect),
        health: httpHealth,
        proc: procfs(),
        clock: systemClock,
        fault: faultHookFromEnv(process.env[FAULT_ENV], config.stateDir, logger),
        logger,
        stage,
        ...(workload ? { workload: workload.port } : {}),
      },
    );
    await agent.start();
    await stage.removeStaleTemps();
    const consistency = workload && config.consistencyIntervalMs > 0 ? startConsistencyLoop(agent, workload.port, workload.nodeExists, config, logger) : undefined;
    const tls = { ca: await readFile(config.tlsCa), cert: await readFile(config.tlsCert), key: await readFile(config.tlsKey) };
    const eyes = startEyes({ config, agent, runtime, ...(workload ? { workload: { listNodePods: workload.port.listNodePods, nodeExists: workload.nodeExists } } : {}), logger });
    const components = await componentService(config, fs, logger);
    const handlers = createAgentHandlers(agent, stage, logger, { nodeInfoCacheMs: config.nodeInfoCacheMs, stageIdleTimeoutMs: config.stageIdleTimeoutMs, components }, eyes.handlers);
    const server = await startAgentServer({ address: config.listen, tls, handlers, logger, tlsHandshakeTimeoutMs: config.tlsHandshakeTimeoutMs });
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        logger.info({ signal }, 'shutting down');
        resolve();
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
    if (consistency) clearInterval(consistency);
    await server.shutdown(config.shutdownGraceMs);
    await eyes.stop();
    runtime.close();
    logger.info('stopped');
  } catch (err) {
    logger.fatal({ err, code: isKipError(err) ? err.code : undefined }, 'kip-agent failed');
    process.exitCode = 1;
  }
}

async function workloadPort(config: AgentConfig, runtime: AutoRuntime): Promise<{ port: WorkloadPort; nodeExists: () => Promise<boolean> }> {
  const rest = await kubeRestFromKubeconfig(config.kubeconfig);
  return {
    port: {
      listNodePods: async () => (await listNodePods(rest, config.nodeName)).node,
      listContainers: () => runtime.listContainers(),
    },
    // 404 is the answer "no such Node"; every other failure is thrown (incomplete information).
    nodeExists: async () => {
      try {
        await rest.get(`/api/v1/nodes/${encodeURIComponent(config.nodeName)}`);
        return true;
      } catch (err) {
        if (err instanceof RawKubeApiError && err.status === 404) return false;
        throw err;
      }
    },
  };
}

function startConsistencyLoop(agent: UpgradeAgent, workload: WorkloadPort, nodeExists: () => Promise<boolean>, config: AgentConfig, logger: Logger): NodeJS.Timeout {
  const log = logger.child({ component: 'consistency' });
  let busy = false;
  return setInterval(() => {
    if (busy) return;
    busy = true;
    consistencyPass({
      nodeExists,
      listNodePods: () => workload.listNodePods(),
      runtime: { listContainers: () => workload.listContainers() },
      kubelet: async () => {
        const node = await agent.nodeInfo();
        return { version: node.kubeletVersion, active: node.unit?.activeState === 'active' };
      },
      runInProgress: () => agent.runInProgress(),
      skipFile: {
        read: async () => {
          const s = await agent.skipFileInfo();
          return s.present ? s.raw : undefined;
        },
        remove: () => agent.removeSkipFile(),
      },
      logger: log,
    })
      .catch((err: unknown) => log.warn({ err }, 'consistency check failed'))
      .finally(() => {
        busy = false;
      });
  }, config.consistencyIntervalMs);
}
