import { ComponentFlagsRefusedError, ComponentVersionInvalidError, ComponentVersionSkewError, UnknownComponentError, type ComponentFlagRefusal } from './errors.ts';
import { FLAG_CHANGES, SERVED_API_ESCAPES, formatCitation } from './table.ts';
import { CONTROL_COMPONENTS, type ControlComponent, type FlagChange } from './types.ts';

/**
 * Flag migration for one minor step of a control-plane component or kube-proxy (pure), the same
 * shape as the kubelet's planner (agent/kubelet/migrate.ts) but over an argument list: a static
 * pod's `command`/`args`, or a unit's resolved command line. It returns the new argument list and
 * every change with its reason and citation, or refuses (COMPONENT_FLAGS_REFUSED listing each
 * flag and its override). Arguments it has no entry for are kept word for word, in order.
 */

export interface ComponentFlagMigrationInput {
  readonly component: string;
  readonly from: string;
  readonly to: string;
  /** The arguments after the program name. */
  readonly args: readonly string[];
  /** `--flag` for each refused flag the operator accepts to drop. */
  readonly overrides?: readonly string[];
  /**
   * kube-apiserver crossing 1.16: keep serving the API versions 1.16 stops serving by adding the
   * changelog's --runtime-config entries (for clusters whose manifests are not migrated yet).
   */
  readonly keepServedApis?: boolean;
}

export interface ComponentFlagPlanChange {
  readonly flag: string;
  readonly action: 'drop' | 'rename' | 'add-runtime-config';
  readonly before: string | undefined;
  readonly after: string | undefined;
  readonly reason: string;
  readonly citation: string;
  readonly override: string | undefined;
}

export interface ComponentFlagPlan {
  readonly component: ControlComponent;
  readonly from: string;
  readonly to: string;
  readonly args: readonly string[];
  readonly changed: boolean;
  readonly changes: readonly ComponentFlagPlanChange[];
  /** Deprecations the target still accepts, and API versions it stops serving. */
  readonly warnings: readonly string[];
  readonly unusedOverrides: readonly string[];
}

interface Minor {
  readonly major: number;
  readonly minor: number;
  readonly raw: string;
}

export function parseMinor(text: string): Minor {
  const m = /^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+][0-9A-Za-z.+-]*)?$/.exec(text.trim());
  if (!m) throw new ComponentVersionInvalidError(text);
  return { major: Number(m[1]), minor: Number(m[2]), raw: text.trim() };
}

const minorKey = (m: Minor): number => m.major * 1000 + m.minor;
const sinceKey = (since: string): number => minorKey(parseMinor(since));

export function isControlComponent(name: string): name is ControlComponent {
  return (CONTROL_COMPONENTS as readonly string[]).includes(name);
}

/** Entries of the component whose `since` lies in (from, to]. */
export function flagChangesBetween(component: ControlComponent, from: string, to: string): FlagChange[] {
  const f = minorKey(parseMinor(from));
  const t = minorKey(parseMinor(to));
  return FLAG_CHANGES.filter((e) => e.component === component && sinceKey(e.since) > f && sinceKey(e.since) <= t);
}

interface Occurrence {
  /** Index of the flag word, and of a separate value word when there is one. */
  readonly index: number;
  readonly valueIndex: number | undefined;
  readonly name: string;
  readonly value: string | undefined;
}

const TRUE_WORDS = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE_WORDS = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

function normalizeName(word: string): string {
  return `--${word.replace(/^-+/, '').replace(/_/g, '-')}`;
}

/** pflag: `--name=value`, `--name value` (non-boolean), bare `--name` (boolean); `--` ends the flags. */
function occurrencesOf(args: readonly string[], entry: FlagChange): Occurrence[] {
  const out: Occurrence[] = [];
  for (let i = 0; i < args.length; i++) {
    const w = args[i] as string;
    if (w === '--') break;
    if (!w.startsWith('-')) continue;
    const eq = w.indexOf('=');
    const name = normalizeName(eq < 0 ? w : w.slice(0, eq));
    if (name !== entry.flag) continue;
    if (eq >= 0) out.push({ index: i, valueIndex: undefined, name, value: w.slice(eq + 1) });
    else if (entry.boolean) out.push({ index: i, valueIndex: undefined, name, value: undefined });
    else {
      const next = args[i + 1];
      out.push({ index: i, valueIndex: next !== undefined ? i + 1 : undefined, name, value: next });
      i++;
    }
  }
  return out;
}

function normalizedValue(entry: FlagChange, value: string | undefined): string {
  if (!entry.boolean) return value ?? '';
  if (value === undefined) return 'true';
  if (TRUE_WORDS.has(value)) return 'true';
  if (FALSE_WORDS.has(value)) return 'false';
  return value;
}

const text = (o: Occurrence): string => (o.value === undefined ? o.name : `${o.name}=${o.value}`);

export function planComponentFlagMigration(input: ComponentFlagMigrationInput): ComponentFlagPlan {
  if (!isControlComponent(input.component)) throw new UnknownComponentError(input.component, CONTROL_COMPONENTS);
  const component = input.component;
  const from = parseMinor(input.from);
  const to = parseMinor(input.to);
  if (minorKey(to) < minorKey(from)) throw new ComponentVersionSkewError(component, from.raw, to.raw, 'a downgrade is only done by a rollback');
  if (to.major !== from.major || to.minor - from.minor > 1) throw new ComponentVersionSkewError(component, from.raw, to.raw, 'upgrade one minor version at a time');

  const overrides = new Set(input.overrides ?? []);
  const used = new Set<string>();
  const removed = new Set<number>();
  const replaced = new Map<number, string>();
  const changes: ComponentFlagPlanChange[] = [];
  const warnings: string[] = [];
  const refusals: ComponentFlagRefusal[] = [];

  for (const entry of flagChangesBetween(component, from.raw, to.raw)) {
    const occ = occurrencesOf(input.args, entry);
    if (occ.length === 0) continue;
    const last = occ[occ.length - 1] as Occurrence;
    const value = normalizedValue(entry, last.value);
    if (entry.removedValues !== undefined && !entry.removedValues.includes(value)) continue;
    const citation = formatCitation(entry.citation);
    const m = entry.migration;
    if (m.kind === 'deprecated') {
      warnings.push(`${entry.flag}: ${entry.summary}; ${m.hint} [${citation}]`);
      continue;
    }
    if (m.kind === 'rename') {
      for (const o of occ) {
        replaced.set(o.index, o.valueIndex === undefined && o.value !== undefined ? `${m.to}=${o.value}` : m.to);
        changes.push({ flag: entry.flag, action: 'rename', before: text(o), after: o.value === undefined ? m.to : `${m.to}=${o.value}`, reason: entry.summary, citation, override: undefined });
      }
      continue;
    }
    let override: string | undefined;
    let reason = entry.summary;
    const safe = m.kind === 'drop' || (m.kind === 'drop-if' && m.safeValues.includes(value));
    if (!safe) {
      override = entry.flag;
      const hint = m.hint;
      if (!overrides.has(override)) {
        refusals.push({ flag: entry.flag, value: last.value, reason: `${entry.summary}; ${hint}`, citation, override });
        continue;
      }
      used.add(override);
      reason = `${entry.summary}; dropped by operator override (${hint})`;
    }
    for (const o of occ) {
      removed.add(o.index);
      if (o.valueIndex !== undefined) removed.add(o.valueIndex);
      changes.push({ flag: entry.flag, action: 'drop', before: text(o), after: undefined, reason, citation, override });
    }
  }
  if (refusals.length > 0) throw new ComponentFlagsRefusedError(component, to.raw, refusals);

  let args: string[] = [];
  input.args.forEach((w, i) => {
    if (removed.has(i)) return;
    args.push(replaced.get(i) ?? w);
  });

  if (component === 'kube-apiserver') {
    for (const esc of SERVED_API_ESCAPES) {
      if (!(sinceKey(esc.since) > minorKey(from) && sinceKey(esc.since) <= minorKey(to))) continue;
      const citation = formatCitation(esc.citation);
      if (!input.keepServedApis) {
        warnings.push(`${esc.summary}; pass keepServedApis to add --runtime-config=${esc.entries.join(',')} [${citation}]`);
        continue;
      }
      const r = withRuntimeConfig(args, esc.entries);
      args = r.args;
      if (r.before !== r.after) changes.push({ flag: '--runtime-config', action: 'add-runtime-config', before: r.before, after: r.after, reason: esc.summary, citation, override: undefined });
    }
  }

  const changed = args.length !== input.args.length || args.some((w, i) => w !== input.args[i]);
  return { component, from: from.raw, to: to.raw, args, changed, changes, warnings, unusedOverrides: [...overrides].filter((o) => !used.has(o)) };
}

/**
 * Merges entries into the last --runtime-config word (a key=value list); a key the operator
 * already set keeps the operator's value. Without one, appends a new --runtime-config.
 */
export function withRuntimeConfig(args: readonly string[], entries: readonly string[]): { args: string[]; before: string | undefined; after: string } {
  const out = [...args];
  let at = -1;
  let sep = false;
  for (let i = 0; i < out.length; i++) {
    const w = out[i] as string;
    if (w === '--') break;
    if (w === '--runtime-config' && i + 1 < out.length) {
      at = i + 1;
      sep = true;
      i++;
    } else if (w.startsWith('--runtime-config=')) {
      at = i;
      sep = false;
    }
  }
  const current = at < 0 ? '' : sep ? (out[at] as string) : (out[at] as string).slice('--runtime-config='.length);
  const items = current.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const keys = new Set(items.map((s) => (s.split('=', 1)[0] ?? '').trim()));
  for (const e of entries) {
    const k = e.split('=', 1)[0] ?? e;
    if (!keys.has(k)) items.push(e);
  }
  const merged = items.join(',');
  if (at < 0) {
    const dd = out.indexOf('--');
    const flag = `--runtime-config=${merged}`;
    if (dd < 0) out.push(flag);
    else out.splice(dd, 0, flag);
    return { args: out, before: undefined, after: flag };
  }
  const before = sep ? `--runtime-config=${current}` : (out[at] as string);
  out[at] = sep ? merged : `--runtime-config=${merged}`;
  return { args: out, before, after: `--runtime-config=${merged}` };
}
