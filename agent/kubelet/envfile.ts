/**
 * systemd EnvironmentFile= syntax, parsed the way systemd does (src/basic/env-file.c, systemd
 * 252): a state machine, not a line splitter, because of quotes and line continuations.
 *
 * - Leading whitespace and empty lines are skipped; a line whose first non-blank character is
 *   `#` or `;` is a comment. A comment ending in `\` continues on the next line (still a comment).
 * - `KEY=VALUE`; whitespace around KEY and after `=` is ignored. A KEY that is not a valid
 *   environment name (e.g. `export FOO`) makes the assignment ignored (systemd logs a warning).
 *   A line without `=` is ignored.
 * - Unquoted value: everything to the end of the line, trailing whitespace removed, inner
 *   whitespace and quote characters kept. `\x` gives `x`; `\` before a newline joins lines.
 * - `'...'`: literal up to the next `'`, newlines included.
 * - `"..."`: up to the next unescaped `"`; `\"`, `\\`, `` \` ``, `\$` give the character,
 *   `\` before a newline joins lines, any other `\x` stays `\x`.
 * - After a closing quote the value continues: whitespace is skipped and another quoted or
 *   unquoted part is appended (`A='x' "y"` is `xy`).
 * - Later assignments of the same key win.
 *
 * Every assignment keeps its character span in the file, so a rewrite can replace exactly that
 * assignment and leave every other byte (comments included) as it was.
 */

export type QuoteStyle = 'none' | 'single' | 'double';

export interface EnvAssignment {
  readonly key: string;
  readonly value: string;
  /** Span [start, end) in the file: from the key's first character to the end of the value (the newline excluded). */
  readonly start: number;
  readonly end: number;
  /** How the value began: used to keep the style when rewriting. */
  readonly quote: QuoteStyle;
}

export interface IgnoredEnvLine {
  readonly start: number;
  readonly end: number;
  readonly reason: string;
}

export interface ParsedEnvFile {
  readonly assignments: readonly EnvAssignment[];
  readonly ignored: readonly IgnoredEnvLine[];
}

const WHITESPACE = ' \t\n\r';
const NEWLINE = '\n\r';
const DOUBLE_QUOTE_ESCAPABLE = '"\\`$';

export function isValidEnvName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
}

type State =
  | 'PRE_KEY'
  | 'KEY'
  | 'PRE_VALUE'
  | 'VALUE'
  | 'VALUE_ESCAPE'
  | 'SINGLE_QUOTE_VALUE'
  | 'DOUBLE_QUOTE_VALUE'
  | 'DOUBLE_QUOTE_VALUE_ESCAPE'
  | 'COMMENT'
  | 'COMMENT_ESCAPE';

export function parseEnvFile(content: string): ParsedEnvFile {
  const assignments: EnvAssignment[] = [];
  const ignored: IgnoredEnvLine[] = [];
  let state: State = 'PRE_KEY';
  let key = '';
  let keyTrailingWs = -1; // index in `key` where trailing whitespace starts, -1 if none
  let value = '';
  let valueTrailingWs = -1;
  let start = 0;
  let quote: QuoteStyle = 'none';
  let quoteDecided = false;

  const push = (end: number): void => {
    const k = keyTrailingWs >= 0 ? key.slice(0, keyTrailingWs) : key;
    const v = valueTrailingWs >= 0 ? value.slice(0, valueTrailingWs) : value;
    if (!isValidEnvName(k)) {
      ignored.push({ start, end, reason: `invalid variable name ${JSON.stringify(k)}` });
    } else {
      assignments.push({ key: k, value: v, start, end, quote });
    }
    key = '';
    value = '';
    keyTrailingWs = -1;
    valueTrailingWs = -1;
    quote = 'none';
    quoteDecided = false;
  };
  const decide = (q: QuoteStyle): void => {
    if (!quoteDecided) {
      quote = q;
      quoteDecided = true;
    }
  };

  for (let i = 0; i < content.length; i++) {
    const c = content[i] as string;
    switch (state) {
      case 'PRE_KEY':
        if (c === '#' || c === ';') state = 'COMMENT';
        else if (!WHITESPACE.includes(c)) {
          state = 'KEY';
          start = i;
          key = c;
        }
        break;
      case 'KEY':
        if (NEWLINE.includes(c)) {
          ignored.push({ start, end: i, reason: 'no "=" on the line' });
          key = '';
          keyTrailingWs = -1;
          state = 'PRE_KEY';
        } else if (c === '=') {
          state = 'PRE_VALUE';
          valueTrailingWs = -1;
        } else {
          if (!WHITESPACE.includes(c)) keyTrailingWs = -1;
          else if (keyTrailingWs < 0) keyTrailingWs = key.length;
          key += c;
        }
        break;
      case 'PRE_VALUE':
        if (NEWLINE.includes(c)) {
          push(i);
          state = 'PRE_KEY';
        } else if (c === "'") {
          decide('single');
          valueTrailingWs = -1;
          state = 'SINGLE_QUOTE_VALUE';
        } else if (c === '"') {
          decide('double');
          valueTrailingWs = -1;
          state = 'DOUBLE_QUOTE_VALUE';
        } else if (c === '\\') {
          decide('none');
          state = 'VALUE_ESCAPE';
        } else if (!WHITESPACE.includes(c)) {
          decide('none');
          value += c;
          valueTrailingWs = -1;
          state = 'VALUE';
        }
        break;
      case 'VALUE':
        if (NEWLINE.includes(c)) {
          push(i);
          state = 'PRE_KEY';
        } else if (c === '\\') {
          state = 'VALUE_ESCAPE';
          valueTrailingWs = -1;
        } else {
          if (!WHITESPACE.includes(c)) valueTrailingWs = -1;
          else if (valueTrailingWs < 0) valueTrailingWs = value.length;
          value += c;
        }
        break;
      case 'VALUE_ESCAPE':
        state = 'VALUE';
        if (!NEWLINE.includes(c)) {
          value += c;
          valueTrailingWs = -1;
        }
        break;
      case 'SINGLE_QUOTE_VALUE':
        if (c === "'") state = 'PRE_VALUE';
        else value += c;
        break;
      case 'DOUBLE_QUOTE_VALUE':
        if (c === '"') state = 'PRE_VALUE';
        else if (c === '\\') state = 'DOUBLE_QUOTE_VALUE_ESCAPE';
        else value += c;
        break;
      case 'DOUBLE_QUOTE_VALUE_ESCAPE':
        state = 'DOUBLE_QUOTE_VALUE';
        if (DOUBLE_QUOTE_ESCAPABLE.includes(c)) value += c;
        else if (c === '\n') {
          /* line continuation */
        } else value += `\\${c}`;
        break;
      case 'COMMENT':
        if (c === '\\') state = 'COMMENT_ESCAPE';
        else if (NEWLINE.includes(c)) state = 'PRE_KEY';
        break;
      case 'COMMENT_ESCAPE':
        state = 'COMMENT';
        break;
    }
  }
  // End of file: finish what was open, as systemd does.
  switch (state) {
    case 'PRE_VALUE':
    case 'VALUE':
    case 'VALUE_ESCAPE':
    case 'SINGLE_QUOTE_VALUE':
    case 'DOUBLE_QUOTE_VALUE':
    case 'DOUBLE_QUOTE_VALUE_ESCAPE':
      push(content.length);
      break;
    case 'KEY':
      ignored.push({ start, end: content.length, reason: 'no "=" on the line' });
      break;
    default:
      break;
  }
  return { assignments, ignored };
}

/** Variables as systemd would load them: the last assignment of each key wins. */
export function envFileVariables(parsed: ParsedEnvFile): Map<string, EnvAssignment> {
  const map = new Map<string, EnvAssignment>();
  for (const a of parsed.assignments) map.set(a.key, a);
  return map;
}

/**
 * Write `KEY=value` so that parseEnvFile reads back exactly `value`, keeping the preferred quote
 * style where the value allows it.
 */
export function serializeEnvAssignment(key: string, value: string, preferred: QuoteStyle): string {
  const unquotedOk =
    value.length > 0 &&
    !/[\\\n\r]/.test(value) &&
    !WHITESPACE.includes(value[0] as string) &&
    !WHITESPACE.includes(value[value.length - 1] as string) &&
    value[0] !== "'" &&
    value[0] !== '"';
  if (preferred === 'none' && (unquotedOk || value === '')) return `${key}=${value}`;
  if (preferred === 'single' && !value.includes("'")) return `${key}='${value}'`;
  const escaped = value.replace(/["\\`$]/g, (ch) => `\\${ch}`);
  return `${key}="${escaped}"`;
}
