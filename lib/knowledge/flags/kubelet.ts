/**
 * What each kubelet minor version removed, as data. Every entry cites the Kubernetes changelog
 * (kubernetes/kubernetes CHANGELOG/CHANGELOG-1.NN.md, release section, PR number); each was
 * checked against the changelog text (see the report of helper B, 2026-11-27). Where a source is
 * not the changelog itself, or the changelog's wording differs from the flag's real name, `note`
 * says so.
 *
 * Migration policy (what an SRE expects from an unattended tool):
 * - `drop`: the flag had no effect or its removal keeps today's behaviour: remove it.
 * - `drop-if`: removing it keeps behaviour only for the listed values (the value that matches the
 *   new built-in behaviour); any other value would silently change the node, so it is refused.
 * - `rename`: same meaning under another name: rename, keep the value.
 * - `drop-if-flag`: safe to drop only when another flag is present.
 * - `refuse`: no automatic replacement; refused unless the operator passes the override.
 * A refused entry is dropped (never rewritten to something else) when the operator passes its
 * override, because that is the only change the kubelet will accept.
 */

export interface ChangelogCitation {
  /** Path in kubernetes/kubernetes, e.g. `CHANGELOG/CHANGELOG-1.12.md`. */
  readonly changelog: string;
  /** Release and section headings, e.g. `v1.12.0 › Action Required`. */
  readonly section: string;
  readonly pr: number;
  readonly note?: string;
}

export type FlagMigration =
  | { readonly kind: 'drop' }
  | { readonly kind: 'drop-if'; readonly safeValues: readonly string[]; readonly hint: string }
  | { readonly kind: 'rename'; readonly to: string }
  | { readonly kind: 'drop-if-flag'; readonly requires: string; readonly hint: string }
  | { readonly kind: 'refuse'; readonly hint: string };

export interface RemovedFlag {
  /** `--name`, dashes (the kubelet also accepts underscores; lookups normalize). */
  readonly flag: string;
  /** Minor version that no longer accepts it, e.g. `1.12`. */
  readonly removedIn: string;
  /** A boolean flag: bare `--flag` means `true`, values compare as Go's strconv.ParseBool. */
  readonly boolean: boolean;
  /** When set, only these values were removed (the flag itself stays), e.g. --cloud-provider=auto-detect. */
  readonly removedValues?: readonly string[];
  readonly migration: FlagMigration;
  readonly summary: string;
  readonly citation: ChangelogCitation;
}

export interface RemovedFeatureGate {
  readonly gate: string;
  readonly removedIn: string;
  /** The value whose behaviour the version without the gate keeps (true for GA gates, false for dropped alpha features). */
  readonly safeValue: boolean;
  readonly summary: string;
  readonly citation: ChangelogCitation;
}

export interface NodeLabelRestriction {
  /** First minor version that refuses to start with a disallowed label in --node-labels. */
  readonly since: string;
  /** Label namespaces (the part before `/`) that are restricted: equal to, or a subdomain of, these. */
  readonly restrictedDomains: readonly string[];
  /** Keys allowed even though they are in a restricted domain. */
  readonly allowedLabels: readonly string[];
  /** Namespaces allowed (equal to, or a subdomain of, these). */
  readonly allowedNamespaces: readonly string[];
  readonly citation: ChangelogCitation;
}

const C10 = 'CHANGELOG/CHANGELOG-1.10.md';
const C11 = 'CHANGELOG/CHANGELOG-1.11.md';
const C12 = 'CHANGELOG/CHANGELOG-1.12.md';
const C13 = 'CHANGELOG/CHANGELOG-1.13.md';
const C14 = 'CHANGELOG/CHANGELOG-1.14.md';
const C15 = 'CHANGELOG/CHANGELOG-1.15.md';
const C16 = 'CHANGELOG/CHANGELOG-1.16.md';
const C17 = 'CHANGELOG/CHANGELOG-1.17.md';

export const REMOVED_FLAGS: readonly RemovedFlag[] = [
  // ---- 1.10 (only relevant when coming from 1.9; kept for completeness) ----
  {
    flag: '--require-kubeconfig',
    removedIn: '1.10',
    boolean: true,
    migration: {
      kind: 'drop-if-flag',
      requires: '--kubeconfig',
      hint: '1.10 also removed the default --kubeconfig value: add --kubeconfig=/var/lib/kubelet/kubeconfig (the old default) explicitly, then drop --require-kubeconfig',
    },
    summary: 'removed together with the default --kubeconfig value; the presence of --kubeconfig now selects API-server mode',
    citation: { changelog: C10, section: 'v1.10.0 › Before Upgrading', pr: 58367 },
  },
  {
    flag: '--init-config-dir',
    removedIn: '1.10',
    boolean: false,
    migration: { kind: 'refuse', hint: 'point --config at the kubelet configuration file directly' },
    summary: 'the alpha --init-config-dir was removed in favour of --config',
    citation: { changelog: C10, section: 'v1.10.0 › Before Upgrading', pr: 57624 },
  },
  {
    flag: '--cloud-provider',
    removedIn: '1.10',
    boolean: false,
    removedValues: ['auto-detect'],
    migration: { kind: 'refuse', hint: 'name the cloud provider explicitly (or drop the flag when there is none)' },
    summary: 'the --cloud-provider=auto-detect value was removed',
    citation: { changelog: C10, section: 'v1.10.0 › Before Upgrading', pr: 56287 },
  },
  // ---- 1.11 ----
  {
    flag: '--enable-custom-metrics',
    removedIn: '1.11',
    boolean: true,
    migration: { kind: 'drop' },
    summary: 'the deprecated and inactive --enable-custom-metrics was removed (it had no effect)',
    citation: { changelog: C11, section: 'v1.11.0 › Removed Deprecations', pr: 60699 },
  },
  {
    flag: '--container-runtime',
    removedIn: '1.11',
    boolean: false,
    removedValues: ['rkt'],
    migration: { kind: 'refuse', hint: 'the in-tree rkt runtime is gone: move the node to a CRI runtime (rktlet, containerd) first' },
    summary: 'the rktnetes code (--container-runtime=rkt) was removed',
    citation: { changelog: C11, section: 'v1.11.0 › Removed Deprecations', pr: 61432 },
  },
  {
    flag: '--experimental-qos-reserved',
    removedIn: '1.11',
    boolean: false,
    migration: { kind: 'refuse', hint: 'use --qos-reserved with the same value and --feature-gates=QOSReserved=true' },
    summary: 'replaced by the alpha --qos-reserved flag, which needs the QOSReserved feature gate',
    citation: {
      changelog: C11,
      section: 'v1.11.0 › New alpha features',
      pr: 62509,
      note: 'the changelog spells the old flag "--experimental-qos-reserve"; the kubelet flag was --experimental-qos-reserved',
    },
  },
  // ---- 1.12 ----
  {
    flag: '--cadvisor-port',
    removedIn: '1.12',
    boolean: false,
    migration: {
      kind: 'drop-if',
      safeValues: ['0'],
      hint: 'the cAdvisor web UI on this port is gone in 1.12; run cAdvisor as a DaemonSet if something scrapes it',
    },
    summary: 'the cAdvisor web UI the kubelet served on --cadvisor-port was removed',
    citation: { changelog: C12, section: 'v1.12.0 › Action Required', pr: 65707 },
  },
  {
    flag: '--docker-disable-shared-pid',
    removedIn: '1.12',
    boolean: true,
    migration: {
      kind: 'drop-if',
      safeValues: ['true'],
      hint: 'with false, pods shared one PID namespace; 1.12 shares it only for pods that set spec.shareProcessNamespace',
    },
    summary: 'removed; PID namespace sharing is now per pod (ShareProcessNamespace)',
    citation: { changelog: C12, section: 'v1.12.0 › Other Notable Changes', pr: 66506 },
  },
  // ---- 1.13 ----
  {
    flag: '--google-json-key',
    removedIn: '1.13',
    boolean: false,
    migration: {
      kind: 'drop-if',
      safeValues: [''],
      hint: 'image pulls that used this key for GCR will fail: give the pods imagePullSecrets (or a credential helper) first',
    },
    summary: 'the deprecated --google-json-key was removed',
    citation: { changelog: C13, section: 'v1.13.0 › Urgent Upgrade Notes › kubelet', pr: 69354 },
  },
  // ---- 1.14 ----
  {
    flag: '--experimental-fail-swap-on',
    removedIn: '1.14',
    boolean: true,
    migration: { kind: 'rename', to: '--fail-swap-on' },
    summary: 'the deprecated --experimental-fail-swap-on (deprecated in 1.8) was removed; --fail-swap-on is the same setting',
    citation: { changelog: C14, section: 'v1.14.0 › Urgent Upgrade Notes › kubelet', pr: 69552 },
  },
  // ---- 1.15 ----
  {
    flag: '--allow-privileged',
    removedIn: '1.15',
    boolean: true,
    migration: {
      kind: 'drop-if',
      safeValues: ['true'],
      hint: 'with false, the kubelet refused privileged pods; 1.15 no longer checks: enforce it with PodSecurityPolicy first',
    },
    summary: 'the deprecated kubelet security control AllowPrivileged and its flag were removed (default was true since 1.11)',
    citation: { changelog: C15, section: 'v1.15.0 › Urgent Upgrade Notes › Node', pr: 77820 },
  },
  {
    flag: '--host-network-sources',
    removedIn: '1.15',
    boolean: false,
    migration: { kind: 'drop-if', safeValues: ['*'], hint: 'host-network restrictions by pod source are gone: enforce them with PodSecurityPolicy first' },
    summary: 'the deprecated kubelet security control HostNetworkSources was removed',
    citation: {
      changelog: C15,
      section: 'v1.15.0 › Urgent Upgrade Notes › Node',
      pr: 77820,
      note: 'the changelog names the control (HostNetworkSources); --host-network-sources is its flag',
    },
  },
  {
    flag: '--host-pid-sources',
    removedIn: '1.15',
    boolean: false,
    migration: { kind: 'drop-if', safeValues: ['*'], hint: 'host-PID restrictions by pod source are gone: enforce them with PodSecurityPolicy first' },
    summary: 'the deprecated kubelet security control HostPIDSources was removed',
    citation: {
      changelog: C15,
      section: 'v1.15.0 › Urgent Upgrade Notes › Node',
      pr: 77820,
      note: 'the changelog names the control (HostPIDSources); --host-pid-sources is its flag',
    },
  },
  {
    flag: '--host-ipc-sources',
    removedIn: '1.15',
    boolean: false,
    migration: { kind: 'drop-if', safeValues: ['*'], hint: 'host-IPC restrictions by pod source are gone: enforce them with PodSecurityPolicy first' },
    summary: 'the deprecated kubelet security control HostIPCSources was removed',
    citation: {
      changelog: C15,
      section: 'v1.15.0 › Urgent Upgrade Notes › Node',
      pr: 77820,
      note: 'the changelog names the control (HostIPCSources); --host-ipc-sources is its flag',
    },
  },
  // ---- 1.16 ----
  {
    flag: '--containerized',
    removedIn: '1.16',
    boolean: true,
    migration: { kind: 'drop-if', safeValues: ['false'], hint: 'running the kubelet in a container with --containerized is no longer supported: run it on the host first' },
    summary: 'the --containerized flag (deprecated in 1.14) was removed',
    citation: { changelog: C16, section: 'v1.16.0 › Deprecations and Removals › kubelet', pr: 80043 },
  },
];

export const REMOVED_FEATURE_GATES: readonly RemovedFeatureGate[] = [
  {
    gate: 'KubeletConfigFile',
    removedIn: '1.10',
    safeValue: true,
    summary: 'the alpha KubeletConfigFile gate was removed: --config no longer needs it',
    citation: { changelog: C10, section: 'v1.10.0 › Other Notable Changes', pr: 58978 },
  },
  {
    gate: 'Accelerators',
    removedIn: '1.11',
    safeValue: false,
    summary: 'the alpha Accelerators gate (alpha.kubernetes.io/nvidia-gpu) was removed; a 1.11 kubelet fails with "unrecognized key: Accelerators"; use device plugins',
    citation: {
      changelog: C10,
      section: 'v1.10.0 › Deprecations (announces removal in v1.11)',
      pr: 62187,
      note: 'CHANGELOG-1.10.md #57384 deprecates it for removal in v1.11; CHANGELOG-1.11.md (Removed Deprecations, #61498) removes the nvidia-gpu resource; the gate key itself went in the follow-up PR #62187',
    },
  },
  {
    gate: 'DynamicProvisioningScheduling',
    removedIn: '1.12',
    safeValue: true,
    summary: 'the alpha gate was removed when dynamic provisioning scheduling moved to beta under VolumeScheduling',
    citation: { changelog: C12, section: 'v1.12.0 › Action Required', pr: 67432 },
  },
  ...(['HugePages', 'VolumeScheduling', 'CustomPodDNS', 'PodReadinessGates'] as const).map(
    (gate): RemovedFeatureGate => ({
      gate,
      removedIn: '1.16',
      safeValue: true,
      summary: `the GA feature gate ${gate} was removed (the feature is always on)`,
      citation: { changelog: C16, section: 'v1.16.0 › Deprecations and Removals › Features', pr: 79307 },
    }),
  ),
  ...(['GCERegionalPersistentDisk', 'EnableAggregatedDiscoveryTimeout', 'PersistentLocalVolumes'] as const).map(
    (gate): RemovedFeatureGate => ({
      gate,
      removedIn: '1.17',
      safeValue: true,
      summary: `the deprecated feature gate ${gate} is unconditionally enabled and can no longer be specified`,
      citation: { changelog: C17, section: 'v1.17.0 › Deprecations and Removals', pr: 82472 },
    }),
  ),
  {
    gate: 'MountContainers',
    removedIn: '1.17',
    safeValue: false,
    summary: 'the alpha MountContainers feature and its gate were removed',
    citation: { changelog: C17, section: 'v1.17.0 › Deprecations and Removals', pr: 84365 },
  },
];

/**
 * From 1.16 the kubelet refuses to start when --node-labels sets a label in the kubernetes.io or
 * k8s.io domains (or their subdomains) outside the allowed set. The allowed set is the 1.16
 * source: pkg/kubelet/apis/well_known_labels.go (kubeletLabels, kubeletLabelNamespaces) with the
 * constants of k8s.io/api core/v1/well_known_labels.go at kubernetes-1.16.0; the check is
 * ValidateKubeletFlags in cmd/kubelet/app/options/options.go.
 * The same set is used for 1.17. 1.17's k8s.io/api adds topology.kubernetes.io/{zone,region};
 * we did not confirm that the 1.17 kubelet allows them, so they are refused (with an override)
 * rather than risk a kubelet that does not start.
 */
export const NODE_LABEL_RESTRICTION: NodeLabelRestriction = {
  since: '1.16',
  restrictedDomains: ['kubernetes.io', 'k8s.io'],
  allowedLabels: [
    'kubernetes.io/hostname',
    'failure-domain.beta.kubernetes.io/zone',
    'failure-domain.beta.kubernetes.io/region',
    'beta.kubernetes.io/instance-type',
    'kubernetes.io/os',
    'kubernetes.io/arch',
    'beta.kubernetes.io/os',
    'beta.kubernetes.io/arch',
    'failure-domain.kubernetes.io/zone',
    'failure-domain.kubernetes.io/region',
    'kubernetes.io/instance-type',
  ],
  allowedNamespaces: ['kubelet.kubernetes.io', 'node.kubernetes.io'],
  citation: {
    changelog: C16,
    section: 'v1.16.0 › Deprecations and Removals › kubelet',
    pr: 79305,
    note: 'the changelog links the KEP for the allowed set; the set here is read from the 1.16 source (pkg/kubelet/apis/well_known_labels.go)',
  },
};

/** `CHANGELOG/CHANGELOG-1.12.md (v1.12.0 › Action Required), kubernetes/kubernetes#65707`. */
export function formatCitation(c: ChangelogCitation): string {
  return `${c.changelog} (${c.section}), kubernetes/kubernetes#${c.pr}${c.note ? ` — ${c.note}` : ''}`;
}

function minorNumber(minor: string): number {
  const m = /^1\.(\d+)$/.exec(minor);
  if (!m) throw new RangeError(`not a 1.x minor: ${minor}`);
  return Number(m[1]);
}

/** Entries removed in a version after `fromMinor` up to and including `toMinor` (both `1.NN`). */
export function removedFlagsBetween(fromMinor: string, toMinor: string): RemovedFlag[] {
  const a = minorNumber(fromMinor);
  const b = minorNumber(toMinor);
  return REMOVED_FLAGS.filter((e) => minorNumber(e.removedIn) > a && minorNumber(e.removedIn) <= b);
}

export function removedFeatureGatesBetween(fromMinor: string, toMinor: string): RemovedFeatureGate[] {
  const a = minorNumber(fromMinor);
  const b = minorNumber(toMinor);
  return REMOVED_FEATURE_GATES.filter((e) => minorNumber(e.removedIn) > a && minorNumber(e.removedIn) <= b);
}

function inDomain(namespace: string, domain: string): boolean {
  return namespace === domain || namespace.endsWith(`.${domain}`);
}

/**
 * Whether a --node-labels key is refused by the kubelet of the given minor version. Mirrors the
 * 1.16 rule: restricted when the key's prefix is in a restricted domain and neither the key is in
 * the allowed set nor its prefix in (a subdomain of) an allowed namespace.
 */
export function isNodeLabelRefused(key: string, minor: string, restriction: NodeLabelRestriction = NODE_LABEL_RESTRICTION): boolean {
  if (minorNumber(minor) < minorNumber(restriction.since)) return false;
  const slash = key.indexOf('/');
  if (slash < 0) return false;
  const namespace = key.slice(0, slash);
  if (!restriction.restrictedDomains.some((d) => inDomain(namespace, d))) return false;
  if (restriction.allowedLabels.includes(key)) return false;
  if (restriction.allowedNamespaces.some((d) => inDomain(namespace, d))) return false;
  return true;
}
