/**
 * The lab kubelet's composition root. A per-version launcher (scripts/lab/kubelet/launcher.ts
 * writes them) runs it as:
 *   node --import tsx scripts/lab/kubelet/main.ts --lab-kube-version=v1.13.12 [--lab-patched=/tmp/cache.version.save] <kubelet flags>
 */
import { readFile, writeFile } from 'node:fs/promises';
import { createLogger } from '../../../lib/logger.ts';
import { isKipError } from '../../../lib/errors.ts';
import { createCriClient } from '../../../agent/runtime/cri.ts';
import { BUSYBOX_IMAGE } from '../../containerd/oci-image.ts';
import { kubeRestFromKubeconfig } from '../../../lib/kube/raw.ts';
import { helpText, parseKubeletArgs, parseLabels } from './flags.ts';
import { LabKubelet } from './kubelet.ts';
import { readSkipStateAtStart, type SkipState } from './skip-file.ts';

async function main(argv: string[]): Promise<number> {
  const launcher = argv.filter((a) => a.startsWith('--lab-kube-version=') || a.startsWith('--lab-patched='));
  const rest = argv.filter((a) => !launcher.includes(a));
  const version = launcher.find((a) => a.startsWith('--lab-kube-version='))?.split('=')[1];
  const skipPath = launcher.find((a) => a.startsWith('--lab-patched='))?.slice('--lab-patched='.length);
  if (!version) {
    process.stderr.write('lab kubelet: the launcher must pass --lab-kube-version\n');
    return 2;
  }
  if (rest.includes('--version') || rest.includes('--version=true')) {
    process.stdout.write(`Kubernetes ${version}\n`);
    return 0;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(helpText(version));
    return 0;
  }
  let flags: Map<string, string>;
  try {
    flags = parseKubeletArgs(rest, version);
  } catch (err) {
    process.stderr.write(`F0000 ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  const logger = createLogger({ name: 'kubelet', level: flags.get('lab-log-level') ?? 'info' });
  const kubeconfig = flags.get('kubeconfig');
  const nodeName = flags.get('hostname-override');
  if (!kubeconfig || !nodeName) {
    logger.fatal('the lab kubelet needs --kubeconfig and --hostname-override');
    return 1;
  }
  const startedAt = Date.now();
  let skip: SkipState | undefined;
  if (skipPath) {
    skip = await readSkipStateAtStart({ readFile: (p) => readFile(p, 'utf8'), writeFile: (p, c) => writeFile(p, c) }, skipPath, version, Math.floor(startedAt / 1000));
  }
  const runtime = createCriClient({ address: flags.get('container-runtime-endpoint') ?? 'unix:///run/containerd/containerd.sock', logger });
  const kubelet = new LabKubelet({
    nodeName,
    kubeletVersion: version,
    patched: skipPath !== undefined,
    nodeLabels: parseLabels(flags.get('node-labels')),
    runImage: flags.get('lab-run-image') ?? BUSYBOX_IMAGE,
    healthzPort: Number(flags.get('healthz-port') ?? 10248),
    healthzHost: flags.get('healthz-bind-address') ?? '127.0.0.1',
    syncIntervalMs: Number(flags.get('lab-sync-interval') ?? 2000),
    heartbeatIntervalMs: Number(flags.get('lab-heartbeat-interval') ?? 5000),
  }, { rest: await kubeRestFromKubeconfig(kubeconfig), runtime, logger, nowMs: Date.now, skip });
  try {
    await kubelet.start();
  } catch (err) {
    logger.fatal({ err }, 'kubelet failed to start');
    return 1;
  }
  await new Promise<void>((resolve) => {
    const done = (): void => resolve();
    process.once('SIGTERM', done);
    process.once('SIGINT', done);
  });
  await kubelet.stop();
  runtime.close();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`lab kubelet crashed: ${isKipError(err) ? `${err.code} ${err.message}` : String(err)}\n`);
    process.exit(1);
  },
);
