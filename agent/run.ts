/**
 * kip-agent's composition root after its configuration (./main.ts): logger -> ports -> server ->
 * signals. No logic here.
 */
import { execaExec, isolatedExec } from '../lib/exec.ts';
import { auditedExec } from './audit.ts';
import { isKipError } from '../lib/errors.ts';
import { createLogger } from '../lib/logger.ts';
import { createAgentHandlers, startAgentServer } from './server.ts';
import { createJournal, createSystemd } from './systemd/index.ts';
import { createNotifier } from './systemd/notify.ts';
import { nodeStatusLine } from './status.ts';
import { withAuthz } from './authz.ts';
import { AgentTls, withCertExpiry } from './tls.ts';
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
import { HashMemo } from './watch/hash-memo.ts';
import type { Logger } from '../lib/logger.ts';
import type { AgentConfig } from './config.ts';
import { componentService } from './components-wiring.ts';

import { agentVersion } from './version.ts';

export async function runAgent(config: AgentConfig): Promise<void> {
  // Every line carries the node name, so a journal shipped off the node still says where it came from.
  const logger = createLogger({ name: 'kip-agent', level: config.logLevel }).child({ node: config.nodeName });
  try {
    const fs = nodeFileSystem;
    // Binaries under inspection (installed, staged and uploaded kubelets) run in their own process
    // group, bounded by their timeout, and each run is logged with the caller that caused it.
    const inspect = auditedExec(isolatedExec, logger);
    const kubelet = kubeletBinaryPort(inspect, undefined, config.patchMarkers);
    const stage = new StageStore({ fs, kubelet, stateDir: config.stateDir, skipFilePath: config.skipFile, logger, quotaBytes: config.stagingQuotaBytes });
    const runtime = nodeRuntime(config, logger);
    const workload = config.kubeconfig ? await workloadPort(config, runtime) : undefined;
    // Before the upgrade agent: its runs of other components resolve them through it (issue 9).
    const components = await componentService(config, fs, logger);
    const agent = new UpgradeAgent(
      { ...config, agentVersion: agentVersion() },
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
        components,
        runtime,
      },
    );
    components.setRunHooks({ assertNoRunOf: (name) => agent.assertNoRunOf(name), verifyReleased: (name, since, only) => agent.verifyReleased(name, since, only), withClaim: (kind, name, fn) => agent.claim.with(kind, name, fn) });
    await agent.start();
    await stage.removeStaleTemps();
    const consistency = workload && config.consistencyIntervalMs > 0 ? startConsistencyLoop(agent, workload.port, workload.nodeExists, config, logger) : undefined;
    // Checked before anything listens: unreadable files, a key not matching its certificate or a
    // certificate from another CA stop the agent with an error naming the file.
    const tls = await AgentTls.load({ ca: config.tlsCa, cert: config.tlsCert, key: config.tlsKey }, logger);
    process.on('SIGHUP', () => void tls.reload());
    const eyes = startEyes({ config, agent, runtime, ...(workload ? { workload: { listNodePods: workload.port.listNodePods, nodeExists: workload.nodeExists } } : {}), logger });
    await eyes.heal.recover().catch((err: unknown) => logger.error({ err }, 'heal recovery failed'));
    const base = createAgentHandlers(agent, stage, logger, { nodeInfoCacheMs: config.nodeInfoCacheMs, stageIdleTimeoutMs: config.stageIdleTimeoutMs, components, heal: eyes.heal, eyesNodeFields: eyes.nodeFields }, eyes.handlers);
    const handlers = withAuthz(withCertExpiry(base, tls), logger);
    const server = await startAgentServer({ address: config.listen, tls: tls.serverCredentials(), handlers, logger, tlsHandshakeTimeoutMs: config.tlsHandshakeTimeoutMs });
    // READY only once the server listens and the first inventory was read (systemd orders
    // After=kip-agent on it); a node without a kubelet yet is still served (staging comes first).
    const notifier = createNotifier({ exec: execaExec, env: process.env, pid: process.pid, clock: systemClock, logger });
    const status = await agent.nodeInfo().then(
      (n) => nodeStatusLine(n, config.listen),
      (err: unknown) => {
        logger.warn({ err }, 'first inventory failed');
        return `serving ${config.listen}: inventory failed: ${err instanceof Error ? err.message : String(err)}`;
      },
    );
    logger.info({ status }, 'ready');
    await notifier.ready(status);
    const stopWatchdog = notifier.startWatchdog();
    const metrics = config.metricsListen
      ? await (await import('./metrics.ts')).startMetricsServer({ listen: config.metricsListen, source: { nodeInfo: () => agent.nodeInfo(), certNotAfterMs: () => tls.notAfterMs, agentVersion: agentVersion() }, logger })
      : undefined;
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        logger.info({ signal }, 'shutting down');
        resolve();
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
    if (consistency) clearInterval(consistency);
    await notifier.stopping('stopping: letting running calls finish');
    stopWatchdog();
    await metrics?.close();
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
  // 404 is the answer "no such Node"; every other failure is thrown (incomplete information).
  const nodeExists = async (): Promise<boolean> => {
    try {
      await rest.get(`/api/v1/nodes/${encodeURIComponent(config.nodeName)}`);
      return true;
    } catch (err) {
      if (err instanceof RawKubeApiError && err.status === 404) return false;
      throw err;
    }
  };
  return {
    port: {
      listNodePods: async () => (await listNodePods(rest, config.nodeName)).node,
      listContainers: () => runtime.listContainers(),
      node: { name: config.nodeName, exists: nodeExists },
    },
    nodeExists,
  };
}

function startConsistencyLoop(agent: UpgradeAgent, workload: WorkloadPort, nodeExists: () => Promise<boolean>, config: AgentConfig, logger: Logger): NodeJS.Timeout {
  const log = logger.child({ component: 'consistency' });
  let busy = false;
  const hashMemo = new HashMemo();
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
      // Anything holding the node claim (a run, a heal restarting the kubelet, a Hold...) counts
      // as a run: the file's fate is decided after it.
      runInProgress: () => agent.claim.holder !== undefined,
      hashMemo,
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
