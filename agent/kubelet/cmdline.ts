import { parseEnvFile, type EnvAssignment, type ParsedEnvFile } from './envfile.ts';
import { KubeletEnvFileMissingError, KubeletUnitInvalidError } from './errors.ts';
import { parseUnitFiles, type ParsedUnits, type RawWord, type UnitEnvironmentAssignment, type UnitFileInput } from './unitfile.ts';

/**
 * The kubelet's effective command line, computed from its unit files and environment files the
 * way systemd builds it, with the place each word comes from.
 *
 * Environment: `Environment=` assignments in order, then `EnvironmentFile=` files in order, the
 * files overriding `Environment=` (systemd.exec(5)). In ExecStart, a word that is exactly
 * `$VAR` becomes the variable's value split at whitespace (zero words when empty or unset);
 * `${VAR}` (alone or inside a word) is replaced by the exact value and the word stays one word;
 * `$$` is a literal `$`.
 */

export interface KubeletUnitInput {
  /** The unit file first, then its drop-ins in systemd's order (`systemctl show -p FragmentPath,DropInPaths`). */
  readonly units: readonly UnitFileInput[];
  /** Contents of the EnvironmentFile= files by path; a missing key means the file does not exist. */
  readonly envFiles: Readonly<Record<string, string>>;
}

export type VariableDefinition =
  | { readonly kind: 'env-file'; readonly path: string; readonly assignment: EnvAssignment }
  | { readonly kind: 'unit-environment'; readonly path: string; readonly assignment: UnitEnvironmentAssignment };

export type WordSource =
  /** Written as a word of ExecStart= itself. */
  | { readonly kind: 'literal'; readonly word: RawWord }
  /** The `index`-th whitespace-separated word of `$VAR`. */
  | { readonly kind: 'split'; readonly variable: string; readonly index: number; readonly definition: VariableDefinition }
  /** `${VAR}` as a whole word. */
  | { readonly kind: 'whole'; readonly variable: string; readonly definition: VariableDefinition | undefined }
  /** Literal text with `${VAR}` references inside one word. */
  | { readonly kind: 'mixed'; readonly word: RawWord; readonly variables: readonly string[] };

export interface ArgWord {
  readonly text: string;
  readonly source: WordSource;
}

export interface FlagOccurrence {
  /** Normalized name: `--` plus the name with `_` turned into `-` (the kubelet's normalization). */
  readonly name: string;
  /** The value; undefined for a bare flag (`--containerized`). */
  readonly value: string | undefined;
  /** Index into `words` of the word holding the name. */
  readonly nameWord: number;
  /** Index of a separate value word (`--kubeconfig /path`), if any. */
  readonly valueWord: number | undefined;
}

export interface EffectiveCommandLine {
  readonly binary: string;
  readonly execStartPath: string;
  /** argv, binary first. */
  readonly words: readonly ArgWord[];
  readonly flags: readonly FlagOccurrence[];
  /** Indexes of words that are neither flags nor flag values (the kubelet refuses them). */
  readonly positional: readonly number[];
  readonly variables: ReadonlyMap<string, VariableDefinition>;
  readonly envFiles: ReadonlyMap<string, ParsedEnvFile>;
  readonly warnings: readonly string[];
}

/** EnvironmentFile= paths the unit files reference, so the caller knows which files to read. */
export function referencedEnvironmentFiles(units: readonly UnitFileInput[]): { path: string; optional: boolean }[] {
  return parseUnitFiles(units).environmentFiles.map((f) => ({ path: f.path, optional: f.optional }));
}

export function normalizeFlagName(word: string): string {
  const body = word.replace(/^-+/, '');
  return `--${body.replace(/_/g, '-')}`;
}

function variableValue(d: VariableDefinition | undefined): string {
  return d === undefined ? '' : d.assignment.value;
}

const BRACED = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\$/g;

/**
 * Resolve the command line. `booleanFlags` (normalized names) never take the next word as their
 * value; every other flag written without `=` takes the next word when it does not start with `-`
 * (the kubelet accepts no positional arguments, so such a word can only be the value).
 */
export function resolveKubeletCommandLine(input: KubeletUnitInput, options: { booleanFlags?: ReadonlySet<string> } = {}): EffectiveCommandLine {
  const parsed: ParsedUnits = parseUnitFiles(input.units);
  const warnings = [...parsed.warnings];
  if (parsed.execStart === undefined || parsed.execStart.words.length === 0) {
    throw new KubeletUnitInvalidError('the kubelet unit has no ExecStart=', { units: input.units.map((u) => u.path) });
  }
  const variables = new Map<string, VariableDefinition>();
  for (const a of parsed.environment) variables.set(a.key, { kind: 'unit-environment', path: a.word.path, assignment: a });
  const envFiles = new Map<string, ParsedEnvFile>();
  for (const ref of parsed.environmentFiles) {
    const content = input.envFiles[ref.path];
    if (content === undefined) {
      if (ref.optional) continue;
      throw new KubeletEnvFileMissingError(ref.path, ref.unit);
    }
    const file = parseEnvFile(content);
    envFiles.set(ref.path, file);
    for (const ig of file.ignored) warnings.push(`${ref.path}: ignored characters ${ig.start}-${ig.end}: ${ig.reason}`);
    for (const a of file.assignments) variables.set(a.key, { kind: 'env-file', path: ref.path, assignment: a });
  }

  const words: ArgWord[] = [];
  for (const raw of parsed.execStart.words) {
    const exact = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(raw.text);
    if (exact?.[1] !== undefined) {
      const name = exact[1];
      const def = variables.get(name);
      const parts = variableValue(def).split(/[ \t\n\r]+/).filter((p) => p !== '');
      if (def === undefined) warnings.push(`ExecStart references unset variable $${name}`);
      parts.forEach((text, index) => {
        if (def === undefined) return;
        words.push({ text, source: { kind: 'split', variable: name, index, definition: def } });
      });
      continue;
    }
    const whole = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(raw.text);
    if (whole?.[1] !== undefined) {
      const name = whole[1];
      const def = variables.get(name);
      words.push({ text: variableValue(def), source: { kind: 'whole', variable: name, definition: def } });
      continue;
    }
    const used: string[] = [];
    const text = raw.text.replace(BRACED, (m: string, name: string | undefined) => {
      if (m === '$$' || name === undefined) return '$';
      used.push(name);
      return variableValue(variables.get(name));
    });
    words.push({ text, source: used.length > 0 ? { kind: 'mixed', word: raw, variables: used } : { kind: 'literal', word: raw } });
  }

  const booleanFlags = options.booleanFlags ?? new Set<string>();
  const flags: FlagOccurrence[] = [];
  const positional: number[] = [];
  let onlyPositional = false;
  for (let i = 1; i < words.length; i++) {
    const text = (words[i] as ArgWord).text;
    if (onlyPositional || !text.startsWith('-') || text === '-') {
      positional.push(i);
      continue;
    }
    if (text === '--') {
      onlyPositional = true;
      continue;
    }
    const eq = text.indexOf('=');
    if (eq >= 0) {
      flags.push({ name: normalizeFlagName(text.slice(0, eq)), value: text.slice(eq + 1), nameWord: i, valueWord: undefined });
      continue;
    }
    const name = normalizeFlagName(text);
    const next = words[i + 1];
    if (!booleanFlags.has(name) && next !== undefined && !next.text.startsWith('-')) {
      flags.push({ name, value: next.text, nameWord: i, valueWord: i + 1 });
      i++;
    } else {
      flags.push({ name, value: undefined, nameWord: i, valueWord: undefined });
    }
  }
  return {
    binary: (words[0] as ArgWord).text,
    execStartPath: parsed.execStart.path,
    words,
    flags,
    positional,
    variables,
    envFiles,
    warnings,
  };
}

/** Human description of where a word comes from, e.g. `/etc/default/kubelet: KUBELET_EXTRA_ARGS`. */
export function describeSource(source: WordSource): string {
  switch (source.kind) {
    case 'literal':
      return `${source.word.path}: ExecStart=`;
    case 'mixed':
      return `${source.word.path}: ExecStart= (with \${${source.variables.join('}, ${')}})`;
    case 'split':
    case 'whole': {
      const d = source.definition;
      if (d === undefined) return `unset variable ${source.variable}`;
      return d.kind === 'env-file' ? `${d.path}: ${source.variable}` : `${d.path}: Environment=${source.variable}`;
    }
  }
}

export interface EffectiveFlag {
  readonly flag: string;
  readonly value: string | undefined;
  /** Where it is defined (file and variable). */
  readonly definedIn: string;
}

/** Every flag occurrence in order with its source; for scalar flags the last occurrence is the one in force. */
export function effectiveFlags(cmd: EffectiveCommandLine): EffectiveFlag[] {
  return cmd.flags.map((f) => ({ flag: f.name, value: f.value, definedIn: describeSource((cmd.words[f.nameWord] as ArgWord).source) }));
}

/** The value in force for a scalar flag (last occurrence), `undefined` for a bare flag, `null` when absent. */
export function lastFlagValue(cmd: EffectiveCommandLine, name: string): string | undefined | null {
  const n = normalizeFlagName(name);
  let found: FlagOccurrence | undefined;
  for (const f of cmd.flags) if (f.name === n) found = f;
  return found === undefined ? null : found.value;
}
