/**
 * The lab kubelet's composition root. A per-version launcher (scripts/lab/kubelet/launcher.ts
 * writes them) runs it as:
 *   node --import tsx scripts/lab/kubelet/main.ts --lab-kube-version=v1.13.12 [--lab-patched=/tmp/cache.version.save] <kubelet flags>
 * Lab flags beside the kubelet's: --lab-hashes=engine|vectors (where container hashes come from,
 * hashes.ts), --lab-allocatable=cpu=16,memory=64Gi,pods=110, --lab-device-plugins=vendor/res=N,
 * --lab-device-plugin-delay=MS, --lab-pod-network=true (the runtime has a pod network: pods that
 * are not hostNetwork get their own network namespace; scripts/lab/cni.ts), --lab-sync-interval,
 * --lab-heartbeat-interval, --lab-run-image, --lab-run-images=DIR with --lab-host-root=PATH
 * (containers of lab program images run the program: ./run-images.ts).
 * The runtime follows the kubelet's own flags: --container-runtime=remote with
 * --container-runtime-endpoint (CRI, containerd), or --container-runtime=docker (the v1.10
 * default) with --docker-endpoint and --pod-infra-container-image: pods then run on dockerd as
 * dockershim runs them (dockershim.ts).
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { createLogger } from '../../../lib/logger.ts';
import { isKipError } from '../../../lib/errors.ts';
import { systemClock } from '../../../lib/clock.ts';
import { defaultSamePaths } from './run-images.ts';
import { createCriClient } from '../../../agent/runtime/cri.ts';
import { BUSYBOX_IMAGE, PAUSE_IMAGE } from '../../containerd/oci-image.ts';
import { createDockershimRuntime } from './dockershim.ts';
import { kubeRestFromKubeconfig } from '../../../lib/kube/raw.ts';
import { helpText, parseKubeletArgs, parseLabels } from './flags.ts';
import { LabKubelet } from './kubelet.ts';
import { readCacheVersionAtStart, type CacheVersion } from './skip-file.ts';
import { engineHasher, loadHashVectors, vectorHasher, type ContainerHasher } from './hashes.ts';

export const DEFAULT_ALLOCATABLE = 'cpu=16,memory=64Gi,pods=110,ephemeral-storage=100Gi';
/** Exit code when the hash oracle cannot answer: the unit fails loudly instead of guessing. */
export const EXIT_ORACLE_MISS = 3;

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
  const hashes = flags.get('lab-hashes') ?? 'engine';
  if (hashes !== 'engine' && hashes !== 'vectors') {
    process.stderr.write(`F0000 --lab-hashes must be engine or vectors, got ${hashes}\n`);
    return 1;
  }
  const hasher: ContainerHasher = hashes === 'vectors' ? vectorHasher(loadHashVectors()) : engineHasher;
  const clock = systemClock;
  let cache: CacheVersion | undefined;
  if (skipPath) {
    const fs = {
      exists: async (p: string) => stat(p).then(() => true, (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return false;
        throw err;
      }),
      readFile: (p: string) => readFile(p, 'utf8'),
      writeFile: (p: string, c: string) => writeFile(p, c, { mode: 0o644 }),
    };
    cache = await readCacheVersionAtStart(fs, skipPath, version, Math.floor(clock.now() / 1000));
  }
  // The kubelet's defaults of the era: --container-runtime=docker, --docker-endpoint=unix:///var/run/docker.sock
  // (cmd/kubelet/app/options/container_runtime.go, v1.10). The lab deviates in one case: a bare
  // --container-runtime-endpoint means CRI (the lab's tests start kubelets that way).
  const runtimeKind = flags.get('container-runtime') ?? (flags.has('container-runtime-endpoint') ? 'remote' : 'docker');
  if (runtimeKind !== 'docker' && runtimeKind !== 'remote') {
    process.stderr.write(`F0000 unsupported --container-runtime ${runtimeKind}: the lab kubelet runs docker (dockershim) or remote (CRI)\n`);
    return 1;
  }
  const runtime = runtimeKind === 'docker'
    ? createDockershimRuntime({ endpoint: flags.get('docker-endpoint') ?? 'unix:///var/run/docker.sock', infraImage: flags.get('pod-infra-container-image') ?? PAUSE_IMAGE, logger })
    : createCriClient({ address: flags.get('container-runtime-endpoint') ?? 'unix:///run/containerd/containerd.sock', logger });
  let fatal: Error | undefined;
  let wake: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const kubelet = new LabKubelet({
    nodeName,
    kubeletVersion: version,
    patched: skipPath !== undefined,
    nodeLabels: parseLabels(flags.get('node-labels')),
    allocatable: parseLabels(flags.get('lab-allocatable') ?? DEFAULT_ALLOCATABLE),
    devicePlugins: parseLabels(flags.get('lab-device-plugins')),
    devicePluginDelayMs: Number(flags.get('lab-device-plugin-delay') ?? 5000),
    podManifestPath: flags.get('pod-manifest-path'),
    podNetwork: flags.get('lab-pod-network') === 'true',
    runImage: flags.get('lab-run-image') ?? BUSYBOX_IMAGE,
    healthzPort: Number(flags.get('healthz-port') ?? 10248),
    healthzHost: flags.get('healthz-bind-address') ?? '127.0.0.1',
    ...(flags.get('node-ip') ? { nodeIp: flags.get('node-ip') } : {}),
    syncIntervalMs: Number(flags.get('lab-sync-interval') ?? 2000),
    heartbeatIntervalMs: Number(flags.get('lab-heartbeat-interval') ?? 5000),
    ...(flags.get('lab-run-images') ? { runImages: { releasesDir: flags.get('lab-run-images') ?? '', hostRoot: flags.get('lab-host-root') ?? '/', samePath: defaultSamePaths() } } : {}),
    runtimeName: runtimeKind === 'docker' ? 'docker' : 'containerd',
  }, {
    rest: await kubeRestFromKubeconfig(kubeconfig), runtime, logger, clock, cache, hasher,
    fatal: (err) => {
      fatal = err;
      wake();
    },
  });
  try {
    await kubelet.start();
  } catch (err) {
    logger.fatal({ err }, 'kubelet failed to start');
    return 1;
  }
  process.once('SIGTERM', () => wake());
  process.once('SIGINT', () => wake());
  await stopped;
  await kubelet.stop();
  runtime.close();
  if (fatal) {
    process.stderr.write(`F0000 ${fatal.message}\n`);
    return EXIT_ORACLE_MISS;
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`lab kubelet crashed: ${isKipError(err) ? `${err.code} ${err.message}` : String(err)}\n`);
    process.exit(1);
  },
);
