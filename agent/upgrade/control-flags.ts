/**
 * Flags of a component other than the kubelet, for one run (pure): the planner of
 * lib/knowledge/flags over the component's argument list, plus the `--runtime-config` entries
 * that keep API versions served (UpgradeRequest.keep_served_apis), and the systemd drop-in that
 * carries a migrated command line.
 */
import { InvalidInputError } from '../../lib/errors.ts';
import { parseMinor, planComponentFlagMigration, SERVED_API_ESCAPES, withRuntimeConfig, type ComponentFlagPlan } from '../../lib/knowledge/flags/index.ts';

export const KEEP_SERVED_APIS_REFUSED = 'KEEP_SERVED_APIS_REFUSED';

/** `group/version` or `group/version/resource`, as --runtime-config spells its keys. */
const API_KEY = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?\/v[0-9]+((alpha|beta)[0-9]+)?(\/[a-z0-9]+)?$/;

/**
 * The --runtime-config entries (`<key>=true`) for keep_served_apis. Only kube-apiserver takes
 * them, and only for a 1.16 or 1.17 target: 1.16 stops serving apps/v1beta1, apps/v1beta2 and
 * the extensions/v1beta1 workloads by default and --runtime-config re-enables them
 * (CHANGELOG-1.16.md v1.16.0-alpha.1 › Action Required, #70672); 1.18 no longer serves them at
 * all, so the flag would not keep them (CHANGELOG-1.18.md, #85903, as the contract says).
 */
export function runtimeConfigEntries(component: string, to: string, keep: readonly string[]): string[] {
  if (keep.length === 0) return [];
  if (component !== 'kube-apiserver') {
    throw new InvalidInputError(KEEP_SERVED_APIS_REFUSED, `keep_served_apis is for kube-apiserver only, not ${component}: leave it empty`, { component });
  }
  const minor = parseMinor(to);
  if (minor.major !== 1 || minor.minor < 16 || minor.minor > 17) {
    throw new InvalidInputError(
      KEEP_SERVED_APIS_REFUSED,
      minor.minor >= 18
        ? `keep_served_apis cannot keep ${keep.join(', ')} served by kube-apiserver ${to}: 1.18 no longer serves them (CHANGELOG-1.18 #85903); migrate the objects to apps/v1 (and networking.k8s.io/v1, policy/v1beta1) before upgrading to 1.18`
        : `keep_served_apis is only needed from 1.16 (CHANGELOG-1.16 #70672); ${to} still serves these APIs: leave it empty`,
      { to, keep: [...keep] },
    );
  }
  const known = new Set(SERVED_API_ESCAPES.flatMap((e) => e.entries.map((x) => x.split('=', 1)[0] ?? x)));
  return keep.map((k) => {
    if (!API_KEY.test(k)) throw new InvalidInputError(KEEP_SERVED_APIS_REFUSED, `keep_served_apis entry ${JSON.stringify(k.slice(0, 80))} is not group/version[/resource] (e.g. extensions/v1beta1/deployments)`, { entry: k.slice(0, 80) });
    if (!known.has(k)) {
      throw new InvalidInputError(KEEP_SERVED_APIS_REFUSED, `keep_served_apis entry ${k} is not one of the API versions 1.16 stops serving: ${[...known].join(', ')}`, { entry: k, known: [...known] });
    }
    return `${k}=true`;
  });
}

export interface ControlFlagsInput {
  readonly component: string;
  readonly from: string;
  readonly to: string;
  readonly args: readonly string[];
  readonly overrides: readonly string[];
  readonly keepServedApis: readonly string[];
}

/** The plan, with the kept APIs merged into --runtime-config; throws COMPONENT_FLAGS_REFUSED / KEEP_SERVED_APIS_REFUSED. */
export function planControlFlags(input: ControlFlagsInput): ComponentFlagPlan {
  const entries = runtimeConfigEntries(input.component, input.to, input.keepServedApis);
  const plan = planComponentFlagMigration({ component: input.component, from: input.from, to: input.to, args: input.args, overrides: input.overrides });
  if (entries.length === 0) return plan;
  const r = withRuntimeConfig(plan.args, entries);
  const changed = r.args.length !== input.args.length || r.args.some((w, i) => w !== input.args[i]);
  const change = { flag: '--runtime-config', action: 'add-runtime-config' as const, before: r.before, after: r.after, reason: 'keep_served_apis', citation: 'kubernetes CHANGELOG/CHANGELOG-1.16.md (v1.16.0-alpha.1 › Action Required, #70672)', override: undefined };
  return { ...plan, args: r.args, changed, changes: r.before === r.after ? plan.changes : [...plan.changes, change] };
}

/** One word for ExecStart=: double-quoted, with systemd's specifiers (%) and variables ($) escaped. */
export function systemdQuote(word: string): string {
  return `"${word.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%').replace(/\$/g, '$$$$')}"`;
}

/**
 * The drop-in that runs the component with its migrated flags: `ExecStart=` (reset) and the new
 * command line, every word literal (variables were expanded from the backed-up environment files
 * when the plan was made). Absent before the run, so the rollback removes it.
 */
export function flagsDropInContent(runId: string, binary: string, args: readonly string[], notes: readonly string[]): string {
  const why = notes.map((n) => `# ${n.replace(/\n/g, ' ')}`).join('\n');
  return `# Written by kip-agent (run ${runId}): the flags migrated for this version.\n${why}${why ? '\n' : ''}[Service]\nExecStart=\nExecStart=${[binary, ...args].map(systemdQuote).join(' ')}\n`;
}
