/**
 * The lab kube-proxy: what kip-agent needs of a kube-proxy on a worker, and nothing of its data
 * path (it programs no iptables). A per-version launcher (../launchers.ts) runs it as
 *   node --import tsx scripts/lab/kube-proxy/main.ts --lab-kube-version=v1.10.13 [kube-proxy flags]
 * - Refuses, as the Go binary's flag parser does ("unknown flag"), every flag its version no longer
 *   has, taken from lib/knowledge/flags' table (e.g. --resource-container, removed in 1.16, #78294),
 *   so an agent that swaps the binary without migrating the unit sees it fail to start.
 * - Serves GET /healthz on --healthz-bind-address (default 0.0.0.0:10256, upstream's
 *   ports.ProxyHealthzPort) with the JSON upstream's healthz server answers.
 * Runs until SIGTERM/SIGINT.
 */
import { FLAG_CHANGES, parseMinor } from '../../../lib/knowledge/flags/index.ts';
import { InvalidInputError, isKipError } from '../../../lib/errors.ts';
import { parseFlags, parseKubeVersion, type KubeVersion } from '../scheduler/flags.ts';
import { parseBindAddress, serveHealthz, type HealthzEndpoint } from '../healthz.ts';

export interface KubeProxyConfig {
  readonly version: KubeVersion;
  readonly healthz: HealthzEndpoint | undefined;
}

/** Flags this version removed (whole-flag removals of kube-proxy in the knowledge table), by name without dashes. */
export function removedFlags(version: KubeVersion): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of FLAG_CHANGES) {
    if (e.component !== 'kube-proxy' || e.migration.kind === 'deprecated' || e.removedValues !== undefined) continue;
    const since = parseMinor(e.since);
    if (version.major > since.major || (version.major === since.major && version.minor >= since.minor)) out.set(e.flag.replace(/^--/, ''), e.summary);
  }
  return out;
}

export function parseKubeProxyArgs(argv: readonly string[]): KubeProxyConfig {
  const f = parseFlags(argv, new Set(['masquerade-all', 'cleanup', 'cleanup-iptables', 'logtostderr', 'profiling']));
  const version = parseKubeVersion(f.get('lab-kube-version'));
  const gone = removedFlags(version);
  for (const name of f.keys()) {
    const why = gone.get(name);
    if (why !== undefined) throw new InvalidInputError('LAB_FLAG_UNKNOWN', `unknown flag: --${name} (kube-proxy ${version.gitVersion}: ${why})`, { flag: name, version: version.gitVersion });
  }
  const bind = f.get('healthz-bind-address') ?? '0.0.0.0:10256';
  const healthz = parseBindAddress(bind, 'healthz-bind-address');
  return { version, healthz: healthz.port === 0 ? undefined : healthz };
}

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--version') || argv.includes('--version=true')) {
    process.stdout.write(`Kubernetes ${argv.find((a) => a.startsWith('--lab-kube-version='))?.split('=')[1] ?? 'unknown'}\n`);
    return 0;
  }
  let config: KubeProxyConfig;
  try {
    config = parseKubeProxyArgs(argv);
  } catch (err) {
    // Go's pflag: "Error: unknown flag: --x", exit 1.
    process.stderr.write(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  const started = new Date();
  const server = config.healthz ? await serveHealthz(config.healthz, () => JSON.stringify({ lastUpdated: started.toISOString(), currentTime: new Date().toISOString() })) : undefined;
  process.stdout.write(`lab kube-proxy ${config.version.gitVersion} running${config.healthz ? `, healthz on ${config.healthz.host}:${config.healthz.port}` : ''} (no iptables rules: the lab has no service traffic)\n`);
  const sig = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  process.stdout.write(`stopping (${sig})\n`);
  await server?.close();
  return 0;
}

if (process.argv[1]?.endsWith('/kube-proxy/main.ts')) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`lab kube-proxy crashed: ${isKipError(err) ? `${err.code} ${err.message}` : String(err)}\n`);
      process.exit(1);
    },
  );
}
