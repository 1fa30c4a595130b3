/**
 * The lab kube-controller-manager's command line: the real flag names and defaults (see features.ts
 * for the sources), plus the lab's --lab-kube-version. Pure: argv in, config out.
 */
import { InvalidInputError } from '../../../lib/errors.ts';
import { parseBoolFlag, parseFlags, parseGoDuration, parseKubeVersion, parseNumberFlag, type KubeVersion } from '../scheduler/flags.ts';
import { insecureHealthz } from '../scheduler/config.ts';
import type { HealthzEndpoint } from '../healthz.ts';
import { applyFeatureGates, defaultFeatureGates, type FeatureGates } from './features.ts';
import { DEFAULT_LIFECYCLE_CONFIG, type LifecycleConfig } from './lifecycle.ts';

export interface ControllerManagerConfig {
  readonly version: KubeVersion;
  readonly kubeconfig: string;
  readonly nodeMonitorPeriodMs: number;
  readonly featureGates: FeatureGates;
  readonly lifecycle: LifecycleConfig;
  readonly logLevel: string;
  /** Flags neither modelled nor on the known-ignored list (logged as a warning at start). */
  readonly unknownFlags: readonly string[];
  /** The insecure healthz endpoint (--address, --port), undefined with --port=0. */
  readonly healthz: HealthzEndpoint | undefined;
}

/** Accepted and ignored: real flags a lab unit file may carry. */
const IGNORED = new Set(['leader-elect', 'controllers', 'master', 'bind-address', 'secure-port', 'use-service-account-credentials', 'root-ca-file', 'service-account-private-key-file', 'cluster-signing-cert-file', 'cluster-signing-key-file', 'allocate-node-cidrs', 'cluster-cidr', 'v', 'logtostderr', 'authentication-kubeconfig', 'authorization-kubeconfig']);
const KNOWN = new Set(['address', 'port', 'lab-kube-version', 'kubeconfig', 'node-monitor-period', 'node-monitor-grace-period', 'node-startup-grace-period', 'pod-eviction-timeout', 'node-eviction-rate', 'secondary-node-eviction-rate', 'unhealthy-zone-threshold', 'large-cluster-size-threshold', 'enable-taint-manager', 'feature-gates', 'lab-log-level']);
const BOOLEANS = new Set(['leader-elect', 'enable-taint-manager', 'use-service-account-credentials', 'allocate-node-cidrs', 'logtostderr']);

export function parseControllerManagerArgs(argv: readonly string[]): ControllerManagerConfig {
  const f = parseFlags(argv, BOOLEANS);
  // The real binary knows hundreds of flags; the lab models a few. Flags it does not know are kept
  // (main.ts logs them) rather than fatal, so a real unit file still starts the lab component.
  const unknownFlags = [...f.keys()].filter((name) => !KNOWN.has(name) && !IGNORED.has(name));
  const version = parseKubeVersion(f.get('lab-kube-version'));
  const kubeconfig = f.get('kubeconfig');
  if (!kubeconfig) throw new InvalidInputError('LAB_FLAG_MISSING', 'the lab controller-manager needs --kubeconfig', { flag: 'kubeconfig' });
  const dur = (name: string, def: number): number => {
    const v = f.get(name);
    return v === undefined ? def : parseGoDuration(v, name);
  };
  const num = (name: string, def: number): number => {
    const v = f.get(name);
    return v === undefined ? def : parseNumberFlag(v, name);
  };
  const featureGates = applyFeatureGates(defaultFeatureGates(version.minor), f.get('feature-gates'));
  const taintManager = f.has('enable-taint-manager') ? parseBoolFlag(f.get('enable-taint-manager') ?? '', 'enable-taint-manager') : true;
  const d = DEFAULT_LIFECYCLE_CONFIG;
  const nodeMonitorPeriodMs = dur('node-monitor-period', 5000);
  if (nodeMonitorPeriodMs <= 0) throw new InvalidInputError('LAB_FLAG_BAD_DURATION', '--node-monitor-period must be positive', { flag: 'node-monitor-period' });
  return {
    version,
    kubeconfig,
    nodeMonitorPeriodMs,
    featureGates,
    logLevel: f.get('lab-log-level') ?? 'info',
    unknownFlags,
    // ports.InsecureKubeControllerManagerPort: 10252.
    healthz: insecureHealthz(f, 10252),
    lifecycle: {
      nodeMonitorGracePeriodMs: dur('node-monitor-grace-period', d.nodeMonitorGracePeriodMs),
      nodeStartupGracePeriodMs: dur('node-startup-grace-period', d.nodeStartupGracePeriodMs),
      podEvictionTimeoutMs: dur('pod-eviction-timeout', d.podEvictionTimeoutMs),
      nodeEvictionRate: num('node-eviction-rate', d.nodeEvictionRate),
      secondaryNodeEvictionRate: num('secondary-node-eviction-rate', d.secondaryNodeEvictionRate),
      unhealthyZoneThreshold: num('unhealthy-zone-threshold', d.unhealthyZoneThreshold),
      largeClusterSizeThreshold: num('large-cluster-size-threshold', d.largeClusterSizeThreshold),
      taintManager,
      // useTaintBasedEvictions = TaintBasedEvictions gate && runTaintManager (node_lifecycle_controller.go).
      taintBasedEvictions: featureGates.TaintBasedEvictions && taintManager,
      taintNodesByCondition: featureGates.TaintNodesByCondition,
    },
  };
}
