import { KipError } from '../../lib/errors.ts';
import {
  effectiveFlags,
  normalizeFlagName,
  resolveKubeletCommandLine,
  type ArgWord,
  type EffectiveCommandLine,
  type EffectiveFlag,
  type FlagOccurrence,
  type KubeletUnitInput,
  type VariableDefinition,
  describeSource,
} from './cmdline.ts';
import { serializeEnvAssignment } from './envfile.ts';
import { KubeletFlagMigrationRefusedError, KubeletFlagSourceError, type FlagRefusal } from './errors.ts';
import {
  formatCitation,
  isNodeLabelRefused,
  NODE_LABEL_RESTRICTION,
  REMOVED_FLAGS,
  removedFeatureGatesBetween,
  removedFlagsBetween,
  type RemovedFlag,
} from './knowledge.ts';
import { quoteUnitWord } from './unitfile.ts';
import { checkUpgradeStep, minorOf, parseKubeVersion, type KubeVersion, type UpgradeStepKind } from '../../lib/knowledge/version.ts';

/**
 * Flag migration planner (pure). Given the running and target versions and the kubelet's unit
 * files and environment files, it computes the full new content of every file that must change,
 * the list of changes with their reasons and changelog citations, or refuses.
 *
 * Overrides (strings in `overrides`), each accepting that the named thing is dropped:
 * - `--flag` for a removed flag without a safe migration (e.g. `--cadvisor-port` set to 4194);
 * - `feature-gate:Name` for a removed feature gate set to the value that changes behaviour;
 * - `node-label:key` for a --node-labels key the target kubelet refuses (the label already on the
 *   Node object stays there: the kubelet adds labels, it does not remove them);
 * - `unknown:--flag` for a flag the target binary does not know (only checked when `targetFlags`
 *   is given, from listKubeletFlags on the staged binary).
 *
 * Unknown flags: a kubelet exits at start-up on a flag it does not know, so keeping one silently
 * means a kubelet that will not start, and dropping one silently means a node that quietly loses
 * a setting. An SRE expects neither: with `targetFlags` every such flag is a refusal listing the
 * override to pass; without it the check is reported as skipped (`unknownFlagCheck: 'skipped'`).
 */

export interface FlagMigrationInput extends KubeletUnitInput {
  readonly from: KubeVersion | string;
  readonly to: KubeVersion | string;
  readonly overrides?: readonly string[];
  /** Flags the target kubelet accepts (normalized `--name`), from listKubeletFlags(); enables the unknown-flag check. */
  readonly targetFlags?: ReadonlySet<string>;
}

export type ChangeAction = 'drop' | 'rename' | 'edit-value';

export interface PlannedChange {
  /** The flag, gate or label, e.g. `--cadvisor-port`, `--feature-gates=Accelerators`, `--node-labels=node-role.kubernetes.io/master`. */
  readonly subject: string;
  readonly action: ChangeAction;
  /** The flag as written before and after (after undefined when dropped). */
  readonly before: string;
  readonly after: string | undefined;
  /** Where it was defined (file and variable). */
  readonly definedIn: string;
  readonly reason: string;
  readonly citation: string | undefined;
  /** The override that allowed this change, when it needed one. */
  readonly override: string | undefined;
}

export interface FileRewrite {
  readonly path: string;
  readonly before: string;
  readonly after: string;
}

export interface FlagMigrationPlan {
  readonly from: string;
  readonly to: string;
  readonly step: UpgradeStepKind;
  readonly changes: readonly PlannedChange[];
  /** Only files that change, with their full new content. */
  readonly files: readonly FileRewrite[];
  readonly effectiveBefore: readonly EffectiveFlag[];
  readonly effectiveAfter: readonly EffectiveFlag[];
  readonly unknownFlagCheck: 'target-binary' | 'skipped';
  /** Overrides passed that matched nothing (probably a typo). */
  readonly unusedOverrides: readonly string[];
  readonly warnings: readonly string[];
}

type Decision = { readonly kind: 'remove' } | { readonly kind: 'set'; readonly name: string; readonly value: string | undefined };

const TRUE_WORDS = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE_WORDS = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** Go's strconv.ParseBool; undefined when not a boolean. */
export function parseGoBool(text: string): boolean | undefined {
  if (TRUE_WORDS.has(text)) return true;
  if (FALSE_WORDS.has(text)) return false;
  return undefined;
}

function normalizedValue(entry: RemovedFlag, value: string | undefined): string {
  if (!entry.boolean) return value ?? '';
  if (value === undefined) return 'true';
  const b = parseGoBool(value);
  return b === undefined ? value : String(b);
}

export const BOOLEAN_FLAGS: ReadonlySet<string> = new Set(REMOVED_FLAGS.filter((e) => e.boolean).map((e) => e.flag));

function flagText(name: string, value: string | undefined): string {
  return value === undefined ? name : `${name}=${value}`;
}

interface MapEntry {
  readonly key: string;
  readonly text: string;
}

/** pflag mapStringBool / mapStringString syntax: `k=v,k2=v2` (entries trimmed). */
function parseMapValue(value: string): MapEntry[] {
  return value
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '')
    .map((text) => ({ key: (text.split('=', 1)[0] ?? '').trim(), text }));
}

function mapValueOf(entry: MapEntry): string {
  const i = entry.text.indexOf('=');
  return i < 0 ? '' : entry.text.slice(i + 1).trim();
}

interface TextEdit {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

function removalSpan(content: string, start: number, end: number): [number, number] {
  const lineStart = content.lastIndexOf('\n', start - 1) + 1;
  let f = end;
  while (content[f] === ' ' || content[f] === '\t') f++;
  const onlyWsBefore = /^[ \t]*$/.test(content.slice(lineStart, start));
  const contNl = content[f] === '\\' ? (content[f + 1] === '\n' ? 2 : content.slice(f + 1, f + 3) === '\r\n' ? 3 : 0) : 0;
  if (contNl > 0 && onlyWsBefore) return [lineStart, f + contNl];
  const atLineEnd = f >= content.length || content[f] === '\n' || content[f] === '\r' || contNl > 0;
  if (!atLineEnd) return [start, f];
  let b = start;
  while (b > lineStart && (content[b - 1] === ' ' || content[b - 1] === '\t')) b--;
  return [b, end];
}

function applyEdits(path: string, content: string, edits: readonly TextEdit[]): string {
  const sorted = [...edits].sort((a, b) => a.start - b.start || a.end - b.end);
  // merge overlapping pure deletions; refuse any other overlap
  const merged: TextEdit[] = [];
  for (const e of sorted) {
    const last = merged[merged.length - 1];
    if (last !== undefined && e.start < last.end) {
      if (last.text === '' && e.text === '') {
        merged[merged.length - 1] = { start: last.start, end: Math.max(last.end, e.end), text: '' };
        continue;
      }
      throw new KipError('KUBELET_MIGRATION_INTERNAL', `overlapping edits in ${path}`, { path });
    }
    merged.push(e);
  }
  let out = content;
  for (let i = merged.length - 1; i >= 0; i--) {
    const e = merged[i] as TextEdit;
    out = out.slice(0, e.start) + e.text + out.slice(e.end);
  }
  return out;
}

/** Unit-file words may hold specifiers (`%i`, `%H`...) that we keep unexpanded: rewriting such a word would change it. */
function assertNoSpecifier(content: string, start: number, end: number, subject: string, where: string): void {
  if (/%[^%]/.test(content.slice(start, end).replace(/%%/g, ''))) {
    throw new KubeletFlagSourceError(subject, where, 'the unit-file word contains a systemd specifier (%x) that would not survive a rewrite');
  }
}

type WordOp = { readonly op: 'remove' } | { readonly op: 'replace'; readonly text: string };

function editSplitValue(value: string, ops: ReadonlyMap<number, WordOp>): string {
  const tokens = [...value.matchAll(/[^ \t\n\r]+/g)];
  const leading = value.slice(0, tokens[0]?.index ?? value.length);
  const trailingMatch = /[ \t\n\r]*$/.exec(value);
  const trailing = trailingMatch ? trailingMatch[0] : '';
  let out = leading;
  tokens.forEach((t, i) => {
    const next = tokens[i + 1];
    const sep = value.slice((t.index ?? 0) + t[0].length, next?.index ?? value.length);
    const op = ops.get(i);
    if (op?.op === 'remove') return;
    out += (op?.op === 'replace' ? op.text : t[0]) + sep;
  });
  return out.replace(/[ \t\n\r]*$/, '') + (out.trim() === '' ? '' : trailing);
}

function definitionKey(d: VariableDefinition): string {
  return d.kind === 'env-file' ? `${d.path}\0env\0${d.assignment.start}` : `${d.path}\0unit\0${d.assignment.word.start}`;
}

/** Turn word-level operations into file rewrites. */
function rewriteFiles(input: KubeletUnitInput, cmd: EffectiveCommandLine, wordOps: ReadonlyMap<number, WordOp>, subjectOf: (word: number) => string): FileRewrite[] {
  const fileEdits = new Map<string, TextEdit[]>();
  const addEdit = (path: string, e: TextEdit): void => {
    const list = fileEdits.get(path) ?? [];
    list.push(e);
    fileEdits.set(path, list);
  };
  const contentOf = (path: string): string => {
    const unit = input.units.find((u) => u.path === path);
    const c = unit?.content ?? input.envFiles[path];
    if (c === undefined) throw new KipError('KUBELET_MIGRATION_INTERNAL', `no content for ${path}`, { path });
    return c;
  };
  const splitEdits = new Map<string, { def: VariableDefinition; ops: Map<number, WordOp> }>();
  for (const [index, op] of [...wordOps.entries()].sort((a, b) => a[0] - b[0])) {
    const word = cmd.words[index] as ArgWord;
    const src = word.source;
    switch (src.kind) {
      case 'literal': {
        const content = contentOf(src.word.path);
        if (op.op === 'remove') {
          const [s, e] = removalSpan(content, src.word.start, src.word.end);
          addEdit(src.word.path, { start: s, end: e, text: '' });
        } else {
          assertNoSpecifier(content, src.word.start, src.word.end, subjectOf(index), describeSource(src));
          addEdit(src.word.path, { start: src.word.start, end: src.word.end, text: quoteUnitWord(op.text) });
        }
        break;
      }
      case 'split': {
        if (op.op === 'replace' && /[ \t\n\r]/.test(op.text)) {
          throw new KubeletFlagSourceError(subjectOf(index), describeSource(src), 'the new value contains whitespace and $VAR splits at whitespace');
        }
        const key = definitionKey(src.definition);
        const entry = splitEdits.get(key) ?? { def: src.definition, ops: new Map<number, WordOp>() };
        if (!entry.ops.has(src.index)) entry.ops.set(src.index, op);
        splitEdits.set(key, entry);
        break;
      }
      case 'whole': {
        if (op.op === 'remove' || src.definition === undefined) {
          throw new KubeletFlagSourceError(subjectOf(index), describeSource(src), '${VAR} always gives one argument, so emptying the variable would pass an empty argument');
        }
        splitEdits.set(definitionKey(src.definition), { def: src.definition, ops: new Map([[-1, op]]) });
        break;
      }
      case 'mixed':
        throw new KubeletFlagSourceError(subjectOf(index), describeSource(src), 'the word mixes literal text and ${VAR}');
    }
  }
  for (const { def, ops } of splitEdits.values()) {
    const whole = ops.get(-1);
    const newValue = whole !== undefined ? (whole.op === 'replace' ? whole.text : '') : editSplitValue(def.assignment.value, ops);
    if (def.kind === 'env-file') {
      const a = def.assignment;
      addEdit(def.path, { start: a.start, end: a.end, text: serializeEnvAssignment(a.key, newValue, a.quote) });
    } else {
      const w = def.assignment.word;
      assertNoSpecifier(contentOf(def.path), w.start, w.end, def.assignment.key, `${def.path}: Environment=${def.assignment.key}`);
      addEdit(def.path, { start: w.start, end: w.end, text: quoteUnitWord(`${def.assignment.key}=${newValue}`) });
    }
  }
  const out: FileRewrite[] = [];
  for (const [path, edits] of fileEdits) {
    const before = contentOf(path);
    const after = applyEdits(path, before, edits);
    if (after !== before) out.push({ path, before, after });
  }
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

function asVersion(v: KubeVersion | string): KubeVersion {
  return typeof v === 'string' ? parseKubeVersion(v) : v;
}

/**
 * Plan the flag changes for one upgrade step. Throws SKEW_TOO_LARGE / DOWNGRADE_REFUSED /
 * VERSION_PLACEHOLDER for a bad step, KUBELET_FLAGS_REFUSED (listing every offending flag
 * and its override) when something has no safe migration, KUBELET_FLAG_SOURCE_UNEDITABLE when a
 * flag to change comes from a construct it cannot rewrite.
 */
export function planFlagMigration(input: FlagMigrationInput): FlagMigrationPlan {
  const from = asVersion(input.from);
  const to = asVersion(input.to);
  const step = checkUpgradeStep(from, to);
  const overrides = new Set(input.overrides ?? []);
  const usedOverrides = new Set<string>();
  const booleanFlags = new Set(BOOLEAN_FLAGS);
  const cmd = resolveKubeletCommandLine(input, { booleanFlags });
  const decisions = new Map<number, Decision>();
  const changes: PlannedChange[] = [];
  const refusals: FlagRefusal[] = [];
  const sourceOf = (f: FlagOccurrence): string => describeSource((cmd.words[f.nameWord] as ArgWord).source);
  const indexOf = (f: FlagOccurrence): number => cmd.flags.indexOf(f);

  const refuseOrOverride = (r: FlagRefusal): boolean => {
    if (overrides.has(r.override)) {
      usedOverrides.add(r.override);
      return true;
    }
    refusals.push(r);
    return false;
  };

  const fromMinor = minorOf(from);
  const toMinor = minorOf(to);

  // 1. removed and renamed flags
  for (const entry of removedFlagsBetween(fromMinor, toMinor)) {
    const occ = cmd.flags.filter((f) => f.name === entry.flag);
    if (occ.length === 0) continue;
    const last = occ[occ.length - 1] as FlagOccurrence;
    const value = normalizedValue(entry, last.value);
    const citation = formatCitation(entry.citation);
    if (entry.removedValues !== undefined && !entry.removedValues.includes(value)) continue;
    const m = entry.migration;
    let drop = false;
    let reason = entry.summary;
    let override: string | undefined;
    if (m.kind === 'rename') {
      for (const f of occ) {
        decisions.set(indexOf(f), { kind: 'set', name: m.to, value: f.value });
        changes.push({
          subject: entry.flag,
          action: 'rename',
          before: flagText(f.name, f.value),
          after: flagText(m.to, f.value),
          definedIn: sourceOf(f),
          reason: entry.summary,
          citation,
          override: undefined,
        });
      }
      continue;
    }
    if (m.kind === 'drop') drop = true;
    else if (m.kind === 'drop-if' && m.safeValues.includes(value)) drop = true;
    else if (m.kind === 'drop-if-flag' && cmd.flags.some((f) => f.name === normalizeFlagName(m.requires))) drop = true;
    else {
      const hint = m.hint;
      override = entry.flag;
      const allowed = refuseOrOverride({ subject: entry.flag, value: last.value, reason: `${entry.summary}; ${hint}`, citation, override });
      if (!allowed) continue;
      drop = true;
      reason = `${entry.summary}; dropped by operator override (${hint})`;
    }
    if (drop) {
      for (const f of occ) {
        decisions.set(indexOf(f), { kind: 'remove' });
        changes.push({ subject: entry.flag, action: 'drop', before: flagText(f.name, f.value), after: undefined, definedIn: sourceOf(f), reason, citation, override });
      }
    }
  }

  // 2. removed feature gates in --feature-gates
  const gates = removedFeatureGatesBetween(fromMinor, toMinor);
  if (gates.length > 0) {
    for (const f of cmd.flags.filter((x) => x.name === '--feature-gates')) {
      const entries = parseMapValue(f.value ?? '');
      const kept: MapEntry[] = [];
      let changed = false;
      for (const e of entries) {
        const gate = gates.find((g) => g.gate === e.key);
        if (gate === undefined) {
          kept.push(e);
          continue;
        }
        const val = parseGoBool(mapValueOf(e));
        const citation = formatCitation(gate.citation);
        const subject = `--feature-gates=${gate.gate}`;
        let reason = gate.summary;
        let override: string | undefined;
        if (val !== gate.safeValue) {
          override = `feature-gate:${gate.gate}`;
          const allowed = refuseOrOverride({
            subject,
            value: mapValueOf(e),
            reason: `${gate.summary}; ${gate.gate}=${mapValueOf(e)} behaves differently from the version without the gate (${gate.gate}=${gate.safeValue})`,
            citation,
            override,
          });
          if (!allowed) {
            kept.push(e);
            continue;
          }
          reason = `${gate.summary}; dropped by operator override`;
        }
        changed = true;
        changes.push({ subject, action: 'edit-value', before: e.text, after: undefined, definedIn: sourceOf(f), reason, citation, override });
      }
      if (changed) {
        decisions.set(indexOf(f), kept.length === 0 ? { kind: 'remove' } : { kind: 'set', name: f.name, value: kept.map((k) => k.text).join(',') });
      }
    }
  }

  // 3. --node-labels restriction
  for (const f of cmd.flags.filter((x) => x.name === '--node-labels')) {
    const entries = parseMapValue(f.value ?? '');
    const kept: MapEntry[] = [];
    let changed = false;
    for (const e of entries) {
      if (!isNodeLabelRefused(e.key, toMinor)) {
        kept.push(e);
        continue;
      }
      const citation = formatCitation(NODE_LABEL_RESTRICTION.citation);
      const override = `node-label:${e.key}`;
      const allowed = refuseOrOverride({
        subject: `--node-labels=${e.key}`,
        value: mapValueOf(e),
        reason: `kubelet ${toMinor} refuses kubernetes.io/k8s.io labels outside the allowed set; set this label through the API instead (the label already on the Node object stays)`,
        citation,
        override,
      });
      if (!allowed) {
        kept.push(e);
        continue;
      }
      changed = true;
      changes.push({
        subject: `--node-labels=${e.key}`,
        action: 'edit-value',
        before: e.text,
        after: undefined,
        definedIn: sourceOf(f),
        reason: 'label refused by the target kubelet; dropped by operator override (the Node keeps the label it already has)',
        citation,
        override,
      });
    }
    if (changed) {
      decisions.set(indexOf(f), kept.length === 0 ? { kind: 'remove' } : { kind: 'set', name: f.name, value: kept.map((k) => k.text).join(',') });
    }
  }

  // 4. flags the target binary does not know
  if (input.targetFlags !== undefined) {
    const known = new Set([...input.targetFlags].map(normalizeFlagName));
    cmd.flags.forEach((f, i) => {
      const d = decisions.get(i);
      if (d?.kind === 'remove') return;
      const name = d?.kind === 'set' ? d.name : f.name;
      if (known.has(name)) return;
      const override = `unknown:${name}`;
      const allowed = refuseOrOverride({
        subject: name,
        value: f.value,
        reason: `kubelet ${to.raw} does not accept ${name} and would not start (defined in ${sourceOf(f)})`,
        citation: undefined,
        override,
      });
      if (!allowed) return;
      decisions.set(i, { kind: 'remove' });
      changes.push({
        subject: name,
        action: 'drop',
        before: flagText(f.name, f.value),
        after: undefined,
        definedIn: sourceOf(f),
        reason: `not accepted by kubelet ${to.raw}; dropped by operator override`,
        citation: undefined,
        override,
      });
    });
  }

  if (refusals.length > 0) throw new KubeletFlagMigrationRefusedError(to.raw, refusals);

  // 5. word operations -> file rewrites
  const wordOps = new Map<number, WordOp>();
  const subjectByWord = new Map<number, string>();
  cmd.flags.forEach((f, i) => {
    const d = decisions.get(i);
    if (d === undefined) return;
    subjectByWord.set(f.nameWord, f.name);
    if (f.valueWord !== undefined) subjectByWord.set(f.valueWord, f.name);
    if (d.kind === 'remove') {
      wordOps.set(f.nameWord, { op: 'remove' });
      if (f.valueWord !== undefined) wordOps.set(f.valueWord, { op: 'remove' });
    } else if (f.valueWord === undefined) {
      wordOps.set(f.nameWord, { op: 'replace', text: flagText(d.name, d.value) });
    } else {
      if (d.name !== f.name) wordOps.set(f.nameWord, { op: 'replace', text: d.name });
      if (d.value !== f.value) wordOps.set(f.valueWord, { op: 'replace', text: d.value ?? '' });
    }
  });
  const files = rewriteFiles(input, cmd, wordOps, (w) => subjectByWord.get(w) ?? `word ${w}`);

  // 6. self-check: resolve the new files and compare with the intended result
  const newUnits = input.units.map((u) => ({ path: u.path, content: files.find((f) => f.path === u.path)?.after ?? u.content }));
  const newEnv: Record<string, string> = { ...input.envFiles };
  for (const f of files) if (f.path in newEnv) newEnv[f.path] = f.after;
  const after = resolveKubeletCommandLine({ units: newUnits, envFiles: newEnv }, { booleanFlags });
  const expected: string[] = [];
  cmd.flags.forEach((f, i) => {
    const d = decisions.get(i);
    if (d === undefined) expected.push(flagText(f.name, f.value));
    else if (d.kind === 'set') expected.push(flagText(d.name, d.value));
  });
  const actual = after.flags.map((f) => flagText(f.name, f.value));
  if (JSON.stringify(expected) !== JSON.stringify(actual)) {
    throw new KipError('KUBELET_MIGRATION_INTERNAL', 'the rewritten files do not give the intended command line', { expected, actual });
  }

  return {
    from: from.raw,
    to: to.raw,
    step,
    changes,
    files,
    effectiveBefore: effectiveFlags(cmd),
    effectiveAfter: effectiveFlags(after),
    unknownFlagCheck: input.targetFlags !== undefined ? 'target-binary' : 'skipped',
    unusedOverrides: [...overrides].filter((o) => !usedOverrides.has(o)),
    warnings: cmd.warnings,
  };
}
