/**
 * Removed, renamed and deprecated flags of the control-plane components and kube-proxy, as data.
 * The kubelet's own table lives in agent/kubelet/knowledge.ts (it also rewrites unit files); this
 * one works on argument lists (a static pod's `command`, or a unit's resolved ExecStart).
 */

export const CONTROL_COMPONENTS = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy'] as const;
export type ControlComponent = (typeof CONTROL_COMPONENTS)[number];

export interface ChangelogCitation {
  /** Path in kubernetes/kubernetes, e.g. `CHANGELOG/CHANGELOG-1.13.md`. */
  readonly changelog: string;
  /** Release and section headings, e.g. `v1.13.0-alpha.1 › Action Required`. */
  readonly section: string;
  /** The PR the changelog names; undefined only where the changelog entry names none (then `note` says what else we know). */
  readonly pr: number | undefined;
  readonly note?: string;
}

/**
 * - `drop`: the flag had no effect; removing it keeps today's behaviour.
 * - `drop-if`: removing it keeps behaviour only for these values; any other value is refused.
 * - `rename`: same meaning under another name.
 * - `refuse`: no automatic replacement: refused unless the operator passes the override `--flag`.
 * - `deprecated`: still accepted by the target; reported as a warning, never changed.
 */
export type FlagMigration =
  | { readonly kind: 'drop' }
  | { readonly kind: 'drop-if'; readonly safeValues: readonly string[]; readonly hint: string }
  | { readonly kind: 'rename'; readonly to: string }
  | { readonly kind: 'refuse'; readonly hint: string }
  | { readonly kind: 'deprecated'; readonly hint: string };

export interface FlagChange {
  readonly component: ControlComponent;
  /** `--name` with dashes. */
  readonly flag: string;
  /** Minor version that no longer accepts it (or, for `deprecated`, the first that warns), e.g. `1.13`. */
  readonly since: string;
  /** Bare `--flag` means `true`; values compare as Go's strconv.ParseBool. */
  readonly boolean: boolean;
  /** When set, only these values were removed (the flag itself stays), e.g. --storage-backend=etcd2. */
  readonly removedValues?: readonly string[];
  readonly migration: FlagMigration;
  readonly summary: string;
  readonly citation: ChangelogCitation;
}
