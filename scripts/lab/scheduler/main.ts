/**
 * The lab kube-scheduler's composition root. A per-version launcher (launcher.ts) runs it as:
 *   node --import tsx scripts/lab/scheduler/main.ts --lab-kube-version=v1.13.12 --kubeconfig FILE [--lab-resync-period 5s] [--leader-elect ...ignored]
 * Logs pino JSON to stdout; runs until SIGTERM/SIGINT, then stops its watch and exits 0.
 */
import { systemClock } from '../../../lib/clock.ts';
import { createLogger } from '../../../lib/logger.ts';
import { isKipError } from '../../../lib/errors.ts';
import { serveHealthz } from '../healthz.ts';
import { KubeClient } from '../../../lib/kube/index.ts';
import { parseSchedulerArgs, type SchedulerProcessConfig } from './config.ts';
import { controlPlaneApi } from './kube-api.ts';
import { LabScheduler } from './scheduler.ts';

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--version') || argv.includes('--version=true')) {
    process.stdout.write(`Kubernetes ${argv.find((a) => a.startsWith('--lab-kube-version='))?.split('=')[1] ?? 'unknown'}\n`);
    return 0;
  }
  let config: SchedulerProcessConfig;
  try {
    config = parseSchedulerArgs(argv);
  } catch (err) {
    process.stderr.write(`F0000 ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  const logger = createLogger({ name: 'kube-scheduler', level: config.logLevel });
  if (config.unknownFlags.length > 0) logger.warn({ flags: config.unknownFlags }, 'ignoring flags the lab does not model');
  const scheduler = new LabScheduler({ schedulerName: config.schedulerName, resyncPeriodMs: config.resyncPeriodMs }, {
    api: controlPlaneApi(KubeClient.fromFile(config.kubeconfig)),
    logger,
    clock: systemClock,
  });
  const signalled = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  // The apiserver may come up after us (systemd ordering): retry the first watch.
  for (;;) {
    try {
      await scheduler.start();
      break;
    } catch (err) {
      logger.warn({ err }, 'cannot reach the apiserver yet; retrying');
      const r = await Promise.race([signalled, new Promise<undefined>((res) => setTimeout(() => res(undefined), 1000))]);
      if (r) return 0;
    }
  }
  // Healthy once it schedules: kip-agent's Release waits for this endpoint.
  const healthz = config.healthz ? await serveHealthz(config.healthz) : undefined;
  logger.info({ version: config.version.gitVersion, schedulerName: config.schedulerName, healthz: config.healthz }, 'scheduler started');
  const sig = await signalled;
  logger.info({ signal: sig }, 'stopping');
  await healthz?.close();
  await scheduler.stop();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`lab scheduler crashed: ${isKipError(err) ? `${err.code} ${err.message}` : String(err)}\n`);
    process.exit(1);
  },
);
