import type { ChangelogCitation, FlagChange } from './types.ts';

/**
 * Each entry was read in the changelog it cites (kubernetes/kubernetes CHANGELOG/CHANGELOG-1.NN.md,
 * looked up 2026-12-01). Candidates the changelogs did not confirm are left out, on purpose:
 * - `--experimental-encryption-provider-config`: 1.13 says "will be removed in 1.14"; no removal
 *   entry was found, so it is listed as deprecated only.
 * - `--storage-versions`: 1.12 announced removal in 1.13; it was in fact removed in 1.14
 *   (v1.14.0-alpha.3), which is what the table says.
 * - kube-scheduler: no flag removal between 1.10 and 1.17 was found in the changelogs.
 */

const C10 = 'CHANGELOG/CHANGELOG-1.10.md';
const C13 = 'CHANGELOG/CHANGELOG-1.13.md';
const C14 = 'CHANGELOG/CHANGELOG-1.14.md';
const C16 = 'CHANGELOG/CHANGELOG-1.16.md';

export const FLAG_CHANGES: readonly FlagChange[] = [
  // ---- kube-apiserver ----
  {
    component: 'kube-apiserver',
    flag: '--admission-control',
    since: '1.10',
    boolean: false,
    migration: {
      kind: 'deprecated',
      hint: 'move to --enable-admission-plugins/--disable-admission-plugins by hand: --admission-control is the complete ordered list, the new flags add to and remove from the defaults, so a mechanical rename would enable plugins you did not list',
    },
    summary: '--enable-admission-plugins and --disable-admission-plugins were added and --admission-control deprecated',
    citation: { changelog: C10, section: 'v1.10.0 › Other notable changes', pr: 58123 },
  },
  {
    component: 'kube-apiserver',
    flag: '--etcd-quorum-read',
    since: '1.13',
    boolean: true,
    migration: { kind: 'drop-if', safeValues: ['true'], hint: 'quorum reads are always on from 1.13: with --etcd-quorum-read=false the apiserver would start reading with quorum; pass the override to accept that' },
    summary: 'the deprecated --etcd-quorum-read flag was removed; quorum reads are always enabled',
    citation: { changelog: C13, section: 'v1.13.0-alpha.1 › Action Required', pr: 69527 },
  },
  {
    component: 'kube-apiserver',
    flag: '--storage-backend',
    since: '1.13',
    boolean: false,
    removedValues: ['etcd2'],
    migration: { kind: 'refuse', hint: 'migrate the etcd v2 data to the v3 store (not reversible: take an etcd backup first) and set --storage-backend=etcd3 before this step' },
    summary: 'support for the etcd2 storage backend was removed',
    citation: { changelog: C13, section: 'v1.13.0-alpha.1 › Other notable changes', pr: 69310 },
  },
  {
    component: 'kube-apiserver',
    flag: '--service-account-api-audiences',
    since: '1.13',
    boolean: false,
    migration: { kind: 'deprecated', hint: 'use --api-audiences (same value); the old flag is still accepted with a warning' },
    summary: '--service-account-api-audiences was deprecated in favour of --api-audiences',
    citation: { changelog: C13, section: 'v1.13.0 › Deprecations', pr: 70105 },
  },
  {
    component: 'kube-apiserver',
    flag: '--experimental-encryption-provider-config',
    since: '1.13',
    boolean: false,
    migration: { kind: 'deprecated', hint: 'use --encryption-provider-config (same file; kind EncryptionConfiguration, apiVersion apiserver.config.k8s.io/v1)' },
    summary: '--experimental-encryption-provider-config was deprecated in favour of --encryption-provider-config',
    citation: { changelog: C13, section: 'v1.13.0 › Deprecations', pr: 71206 },
  },
  {
    component: 'kube-apiserver',
    flag: '--deserialization-cache-size',
    since: '1.13',
    boolean: false,
    migration: { kind: 'deprecated', hint: 'the flag has no effect since etcd2 support was removed; drop it when convenient' },
    summary: '--deserialization-cache-size was deprecated (inactive without the etcd2 backend)',
    citation: { changelog: C13, section: 'v1.13.0 › Deprecations', pr: 69842 },
  },
  {
    component: 'kube-apiserver',
    flag: '--storage-versions',
    since: '1.14',
    boolean: false,
    migration: { kind: 'refuse', hint: 'storage versions become the binary\'s built-in defaults; make sure every stored object can be read in them (the 1.12 notes ask to omit the flag before upgrading past 1.12)' },
    summary: 'the --storage-versions flag was removed; storage versions are always the built-in defaults',
    citation: { changelog: C14, section: 'v1.14.0-alpha.3 › Action Required', pr: 67678 },
  },
  {
    component: 'kube-apiserver',
    flag: '--repair-malformed-updates',
    since: '1.14',
    boolean: true,
    migration: { kind: 'refuse', hint: 'the apiserver no longer repairs malformed update requests; make sure no client depends on that, then pass the override' },
    summary: 'the deprecated --repair-malformed-updates flag was removed',
    citation: { changelog: C14, section: 'v1.14.0-alpha.3 › Other notable changes', pr: 73663 },
  },
  {
    component: 'kube-apiserver',
    flag: '--enable-logs-handler',
    since: '1.16',
    boolean: true,
    migration: { kind: 'deprecated', hint: 'the log-serving handler is scheduled for removal in 1.19' },
    summary: '--enable-logs-handler and log serving are deprecated',
    citation: { changelog: C16, section: 'v1.16.0 › Deprecations and Removals', pr: 77611 },
  },
  {
    component: 'kube-apiserver',
    flag: '--basic-auth-file',
    since: '1.16',
    boolean: false,
    migration: { kind: 'deprecated', hint: 'move basic-auth users to client certificates or tokens' },
    summary: '--basic-auth-file and basic authentication are deprecated',
    citation: { changelog: C16, section: 'v1.16.0 › Deprecations and Removals', pr: 81152 },
  },
  // ---- kube-controller-manager ----
  {
    component: 'kube-controller-manager',
    flag: '--insecure-experimental-approve-all-kubelet-csrs-for-group',
    since: '1.13',
    boolean: false,
    migration: { kind: 'drop' },
    summary: 'the deprecated --insecure-experimental-approve-all-kubelet-csrs-for-group flag was removed (it had done nothing since 1.7)',
    citation: {
      changelog: C13,
      section: 'v1.13.0 › Urgent Upgrade Notes',
      pr: undefined,
      note: 'the 1.13 note names no PR; the flag has been ignored since 1.7 (CHANGELOG-1.7.md, #45619), so dropping it changes nothing',
    },
  },
  // ---- kube-proxy ----
  {
    component: 'kube-proxy',
    flag: '--resource-container',
    since: '1.16',
    boolean: false,
    migration: { kind: 'drop-if', safeValues: [''], hint: 'kube-proxy 1.16 behaves as with --resource-container="": it no longer moves itself into a cgroup; put it there through its unit (Slice=) or pod instead' },
    summary: 'the deprecated --resource-container flag was removed; kube-proxy behaves as if --resource-container="" was given',
    citation: { changelog: C16, section: 'v1.16.0-alpha.1 › Action Required', pr: 78294 },
  },
];

/** The API versions kube-apiserver 1.16 stops serving by default, and the --runtime-config entries that keep them served. */
export interface RuntimeConfigEscape {
  readonly since: string;
  /** `--runtime-config` entries, in the changelog's spelling. */
  readonly entries: readonly string[];
  readonly summary: string;
  readonly citation: ChangelogCitation;
}

export const SERVED_API_ESCAPES: readonly RuntimeConfigEscape[] = [
  {
    since: '1.16',
    entries: [
      'apps/v1beta1=true',
      'apps/v1beta2=true',
      'extensions/v1beta1/daemonsets=true',
      'extensions/v1beta1/deployments=true',
      'extensions/v1beta1/replicasets=true',
      'extensions/v1beta1/networkpolicies=true',
      'extensions/v1beta1/podsecuritypolicies=true',
    ],
    summary:
      'apps/v1beta1, apps/v1beta2 and the extensions/v1beta1 daemonsets, deployments, replicasets, networkpolicies and podsecuritypolicies are no longer served by default; ' +
      '--runtime-config re-enables them temporarily (the changelog announces the escape hatch goes in 1.18)',
    citation: { changelog: C16, section: 'v1.16.0-alpha.1 › Action Required', pr: 70672 },
  },
];

export function formatCitation(c: ChangelogCitation): string {
  return `kubernetes ${c.changelog} (${c.section}${c.pr !== undefined ? `, #${c.pr}` : ''})${c.note ? `; ${c.note}` : ''}`;
}
