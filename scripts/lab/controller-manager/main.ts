/**
 * The lab kube-controller-manager's composition root (node lifecycle controller only). A per-version
 * launcher (launcher.ts) runs it as:
 *   node --import tsx scripts/lab/controller-manager/main.ts --lab-kube-version=v1.13.12 --kubeconfig FILE
 *     [--node-monitor-period 5s] [--node-monitor-grace-period 40s] [--pod-eviction-timeout 5m0s]
 *     [--node-eviction-rate 0.1] [--feature-gates TaintBasedEvictions=false] [--leader-elect ...ignored]
 * Logs pino JSON to stdout; runs until SIGTERM/SIGINT, then finishes its pass and exits 0.
 */
import { systemClock } from '../../../lib/clock.ts';
import { createLogger } from '../../../lib/logger.ts';
import { isKipError } from '../../../lib/errors.ts';
import { serveHealthz } from '../healthz.ts';
import { KubeClient } from '../../../lib/kube/index.ts';
import { controlPlaneApi } from '../scheduler/kube-api.ts';
import { parseControllerManagerArgs, type ControllerManagerConfig } from './config.ts';
import { NodeLifecycleController } from './controller.ts';

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--version') || argv.includes('--version=true')) {
    process.stdout.write(`Kubernetes ${argv.find((a) => a.startsWith('--lab-kube-version='))?.split('=')[1] ?? 'unknown'}\n`);
    return 0;
  }
  let config: ControllerManagerConfig;
  try {
    config = parseControllerManagerArgs(argv);
  } catch (err) {
    process.stderr.write(`F0000 ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  const logger = createLogger({ name: 'kube-controller-manager', level: config.logLevel });
  if (config.unknownFlags.length > 0) logger.warn({ flags: config.unknownFlags }, 'ignoring flags the lab does not model');
  const controller = new NodeLifecycleController({ lifecycle: config.lifecycle, nodeMonitorPeriodMs: config.nodeMonitorPeriodMs }, {
    api: controlPlaneApi(KubeClient.fromFile(config.kubeconfig)),
    logger,
    clock: systemClock,
  });
  logger.info({ version: config.version.gitVersion, featureGates: config.featureGates, lifecycle: config.lifecycle, nodeMonitorPeriodMs: config.nodeMonitorPeriodMs }, 'node lifecycle controller starting');
  controller.start();
  const healthz = config.healthz ? await serveHealthz(config.healthz) : undefined;
  const sig = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info({ signal: sig }, 'stopping');
  await healthz?.close();
  await controller.stop();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`lab controller-manager crashed: ${isKipError(err) ? `${err.code} ${err.message}` : String(err)}\n`);
    process.exit(1);
  },
);
