/** The lab kube-scheduler's command line: --kubeconfig, --lab-kube-version, a resync period; real flags a unit may carry are ignored. */
import { InvalidInputError } from '../../../lib/errors.ts';
import { parseFlags, parseGoDuration, parseKubeVersion, type KubeVersion } from './flags.ts';
import { DEFAULT_SCHEDULER_NAME } from './decide.ts';
import type { HealthzEndpoint } from '../healthz.ts';

export interface SchedulerProcessConfig {
  readonly version: KubeVersion;
  readonly kubeconfig: string;
  readonly schedulerName: string;
  readonly resyncPeriodMs: number;
  readonly logLevel: string;
  /** Flags neither modelled nor on the known-ignored list (logged as a warning at start). */
  readonly unknownFlags: readonly string[];
  /** The insecure healthz endpoint (--address, --port; upstream's ports.InsecureSchedulerPort 10251), undefined with --port=0. */
  readonly healthz: HealthzEndpoint | undefined;
}

/** --address (default 0.0.0.0) and --port (default `port`, 0 = off): the insecure serving of kube-scheduler / kube-controller-manager 1.10-1.17. */
export function insecureHealthz(f: ReadonlyMap<string, string>, port: number): HealthzEndpoint | undefined {
  const p = f.get('port');
  const n = p === undefined ? port : Number(p);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidInputError('LAB_FLAG_BAD_NUMBER', `--port: invalid port "${String(p)}"`, { flag: 'port' });
  return n === 0 ? undefined : { host: f.get('address') ?? '0.0.0.0', port: n };
}

const IGNORED = new Set(['leader-elect', 'master', 'bind-address', 'secure-port', 'config', 'v', 'logtostderr', 'authentication-kubeconfig', 'authorization-kubeconfig', 'feature-gates']);
const KNOWN = new Set(['address', 'port', 'lab-kube-version', 'kubeconfig', 'scheduler-name', 'lab-resync-period', 'lab-log-level']);

export function parseSchedulerArgs(argv: readonly string[]): SchedulerProcessConfig {
  const f = parseFlags(argv, new Set(['leader-elect', 'logtostderr']));
  // The real binary knows hundreds of flags; the lab models a few. Flags it does not know are kept
  // (main.ts logs them) rather than fatal, so a real unit file still starts the lab component.
  const unknownFlags = [...f.keys()].filter((name) => !KNOWN.has(name) && !IGNORED.has(name));
  const kubeconfig = f.get('kubeconfig');
  if (!kubeconfig) throw new InvalidInputError('LAB_FLAG_MISSING', 'the lab scheduler needs --kubeconfig', { flag: 'kubeconfig' });
  const resync = f.get('lab-resync-period');
  const resyncPeriodMs = resync === undefined ? 5000 : parseGoDuration(resync, 'lab-resync-period');
  if (resyncPeriodMs <= 0) throw new InvalidInputError('LAB_FLAG_BAD_DURATION', '--lab-resync-period must be positive', { flag: 'lab-resync-period' });
  return {
    version: parseKubeVersion(f.get('lab-kube-version')),
    kubeconfig,
    schedulerName: f.get('scheduler-name') ?? DEFAULT_SCHEDULER_NAME,
    resyncPeriodMs,
    logLevel: f.get('lab-log-level') ?? 'info',
    unknownFlags,
    healthz: insecureHealthz(f, 10251),
  };
}
