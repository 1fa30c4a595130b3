/**
 * The lab kubelet's command line, shaped like the real kubelet's: it refuses flags and feature
 * gates its version removed (from the changelog-cited tables in agent/kubelet/knowledge.ts) and,
 * from 1.16, disallowed --node-labels, so a kubelet started with stale flags fails to start as a
 * real one would, and kip's flag migration is exercised for real.
 */
import { KipError } from '../../../lib/errors.ts';
import { REMOVED_FEATURE_GATES, REMOVED_FLAGS, isNodeLabelRefused } from '../../../agent/kubelet/index.ts';

/** Flags a v1.10 kubelet accepted that lab configurations use; removed ones drop out per version. */
const BASE_FLAGS = [
  'address', 'allow-privileged', 'anonymous-auth', 'authentication-token-webhook', 'authorization-mode', 'bootstrap-kubeconfig',
  'cadvisor-port', 'cert-dir', 'cgroup-driver', 'client-ca-file', 'cloud-provider', 'cluster-dns', 'cluster-domain', 'cni-bin-dir',
  'cni-conf-dir', 'config', 'container-runtime', 'container-runtime-endpoint', 'containerized', 'docker-disable-shared-pid', 'docker-endpoint',
  'enable-custom-metrics', 'eviction-hard', 'experimental-fail-swap-on', 'experimental-qos-reserved', 'fail-swap-on', 'feature-gates',
  'google-json-key', 'healthz-bind-address', 'healthz-port', 'host-ipc-sources', 'host-network-sources', 'host-pid-sources', 'hostname-override',
  'image-service-endpoint', 'kube-reserved', 'kubeconfig', 'log-dir', 'logtostderr', 'max-pods', 'network-plugin', 'node-ip', 'node-labels',
  'pod-infra-container-image', 'pod-manifest-path', 'port', 'read-only-port', 'register-node', 'resolv-conf', 'root-dir', 'rotate-certificates',
  'runtime-request-timeout', 'system-reserved', 'tls-cert-file', 'tls-private-key-file', 'v', 'version', 'help',
  // lab-only
  'lab-sync-interval', 'lab-heartbeat-interval', 'lab-run-image', 'lab-log-level', 'lab-hashes', 'lab-allocatable', 'lab-device-plugins',
  'lab-device-plugin-delay', 'lab-pod-network', 'lab-run-images', 'lab-host-root',
];

export class KubeletFlagError extends KipError {
  constructor(message: string) {
    super('LAB_KUBELET_FLAGS', message);
  }
}

const minorOf = (version: string): number => Number(/^v?1\.(\d+)/.exec(version)?.[1] ?? NaN);

export function acceptedFlags(version: string): string[] {
  const minor = minorOf(version);
  const removed = new Set(REMOVED_FLAGS.filter((f) => !f.removedValues && Number(f.removedIn.split('.')[1]) <= minor).map((f) => f.flag.slice(2)));
  return BASE_FLAGS.filter((f) => !removed.has(f));
}

export function helpText(version: string): string {
  return `Usage:\n  kubelet [flags]\n\nFlags:\n${acceptedFlags(version).map((f) => `      --${f} string`).join('\n')}\n`;
}

/** Parses `--flag=value`, `--flag value` and bare boolean flags; the last occurrence wins. */
export function parseKubeletArgs(argv: readonly string[], version: string): Map<string, string> {
  const accepted = new Set(acceptedFlags(version));
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--?([A-Za-z0-9][A-Za-z0-9_.-]*)(?:=(.*))?$/s.exec(arg);
    if (!m) throw new KubeletFlagError(`unexpected argument "${arg}"`);
    const name = m[1]!.replace(/_/g, '-');
    if (!accepted.has(name)) throw new KubeletFlagError(`unknown flag: --${name}`);
    let value = m[2];
    if (value === undefined) {
      const next = argv[i + 1];
      value = next !== undefined && !next.startsWith('-') && !BOOLEAN.has(name) ? (i++, next) : 'true';
    }
    out.set(name, value);
  }
  const minor = minorOf(version);
  for (const removed of REMOVED_FLAGS) {
    const name = removed.flag.slice(2);
    const value = out.get(name);
    if (value !== undefined && removed.removedValues?.includes(value) && Number(removed.removedIn.split('.')[1]) <= minor) {
      throw new KubeletFlagError(`invalid value "${value}" for flag --${name}`);
    }
  }
  const gates = out.get('feature-gates');
  if (gates) {
    for (const pair of gates.split(',')) {
      const gate = pair.split('=')[0]!.trim();
      if (REMOVED_FEATURE_GATES.some((g) => g.gate === gate && Number(g.removedIn.split('.')[1]) <= minor)) {
        throw new KubeletFlagError(`unrecognized feature gate: ${gate}`);
      }
    }
  }
  const labels = out.get('node-labels');
  if (labels) {
    for (const pair of labels.split(',')) {
      const key = pair.split('=')[0]!.trim();
      if (isNodeLabelRefused(key, `1.${minor}`)) {
        throw new KubeletFlagError(`unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-labels: [${key}]`);
      }
    }
  }
  return out;
}

const BOOLEAN = new Set(['allow-privileged', 'anonymous-auth', 'containerized', 'docker-disable-shared-pid', 'enable-custom-metrics', 'experimental-fail-swap-on', 'fail-swap-on', 'logtostderr', 'register-node', 'rotate-certificates', 'authentication-token-webhook', 'version', 'help']);

export function parseLabels(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (text ?? '').split(',')) {
    if (!pair.trim()) continue;
    const [k, v = ''] = pair.split('=');
    out[k!.trim()] = v.trim();
  }
  return out;
}
