import { KubeletUnitInvalidError } from './errors.ts';

/**
 * The parts of systemd unit files (the unit and its drop-ins) that decide the kubelet's command
 * line: `[Service]` `Environment=`, `EnvironmentFile=` and `ExecStart=`, parsed as systemd does
 * (systemd.syntax(7), systemd.service(5)):
 *
 * - A line ending in `\` continues on the next one; the backslash becomes a space. Comment lines
 *   (`#`, `;`) inside a continuation are skipped.
 * - Values are split into words with quotes (`"..."`, `'...'`, also mid-word) and C escapes;
 *   `%%` is a literal `%` (other specifiers are left as written).
 * - An empty assignment (`ExecStart=`, `Environment=`, `EnvironmentFile=`) resets the list
 *   built so far; files are applied in the order given (unit first, then drop-ins).
 *
 * Every word keeps its character span in its file so the planner can edit it in place.
 */

export interface UnitFileInput {
  readonly path: string;
  readonly content: string;
}

export interface RawWord {
  /** The word after unquoting and unescaping. */
  readonly text: string;
  readonly path: string;
  /** Span [start, end) of the word as written (quotes included). */
  readonly start: number;
  readonly end: number;
}

export interface ExecStartDef {
  readonly path: string;
  /** Command prefix characters (`-`, `@`, `+`, `!`, `:`) removed from the first word. */
  readonly prefix: string;
  readonly words: readonly RawWord[];
}

export interface UnitEnvironmentAssignment {
  readonly key: string;
  readonly value: string;
  /** The `KEY=VALUE` word in the unit file. */
  readonly word: RawWord;
}

export interface EnvironmentFileRef {
  readonly path: string;
  /** `-` prefix: a missing file is not an error. */
  readonly optional: boolean;
  readonly unit: string;
}

export interface ParsedUnits {
  readonly execStart: ExecStartDef | undefined;
  readonly environment: readonly UnitEnvironmentAssignment[];
  readonly environmentFiles: readonly EnvironmentFileRef[];
  readonly warnings: readonly string[];
}

interface LogicalLine {
  readonly text: string;
  /** File offset of each character of `text`. */
  readonly map: readonly number[];
}

function logicalLines(content: string): LogicalLine[] {
  const out: LogicalLine[] = [];
  let text = '';
  let map: number[] = [];
  let continuing = false;
  let pos = 0;
  while (pos <= content.length) {
    const nl = content.indexOf('\n', pos);
    const lineEnd = nl < 0 ? content.length : nl;
    let bodyEnd = lineEnd;
    if (bodyEnd > pos && content[bodyEnd - 1] === '\r') bodyEnd--;
    const line = content.slice(pos, bodyEnd);
    const trimmed = line.trimStart();
    const isComment = trimmed.startsWith('#') || trimmed.startsWith(';');
    if (continuing && isComment) {
      // skipped inside a continuation
    } else if (!continuing && (isComment || trimmed === '')) {
      // ignored line
    } else {
      const continues = line.endsWith('\\');
      const bodyLen = continues ? line.length - 1 : line.length;
      for (let i = 0; i < bodyLen; i++) {
        text += line[i];
        map.push(pos + i);
      }
      if (continues) {
        text += ' ';
        map.push(pos + bodyLen);
        continuing = true;
      } else {
        out.push({ text, map });
        text = '';
        map = [];
        continuing = false;
      }
    }
    if (nl < 0) break;
    pos = nl + 1;
  }
  if (continuing) out.push({ text, map });
  return out;
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  '"': '"',
  "'": "'",
  s: ' ',
};

/** C-unescape at s[i] === '\\'; returns the text and the number of characters consumed. */
function cunescape(s: string, i: number): [string, number] {
  const n = s[i + 1];
  if (n === undefined) return ['\\', 1];
  const simple = SIMPLE_ESCAPES[n];
  if (simple !== undefined) return [simple, 2];
  if (n === 'x') {
    const hex = /^[0-9a-fA-F]{2}/.exec(s.slice(i + 2));
    if (hex) return [String.fromCharCode(parseInt(hex[0], 16)), 4];
  }
  if (/[0-7]/.test(n)) {
    const oct = /^[0-7]{3}/.exec(s.slice(i + 1));
    if (oct) return [String.fromCharCode(parseInt(oct[0], 8)), 4];
  }
  return [`\\${n}`, 2]; // relaxed: unknown escapes stay as written
}

interface LineWord {
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

const WS = ' \t\n\r';

function splitWords(s: string, from: number, where: string): LineWord[] {
  const words: LineWord[] = [];
  let i = from;
  while (i < s.length) {
    while (i < s.length && WS.includes(s[i] as string)) i++;
    if (i >= s.length) break;
    const start = i;
    let text = '';
    while (i < s.length && !WS.includes(s[i] as string)) {
      const c = s[i] as string;
      if (c === '"' || c === "'") {
        i++;
        let closed = false;
        while (i < s.length) {
          const q = s[i] as string;
          if (q === c) {
            closed = true;
            i++;
            break;
          }
          if (q === '\\') {
            const [t, used] = cunescape(s, i);
            text += t;
            i += used;
          } else {
            text += q;
            i++;
          }
        }
        if (!closed) throw new KubeletUnitInvalidError(`unterminated quote in ${where}`, { where });
      } else if (c === '\\') {
        const [t, used] = cunescape(s, i);
        text += t;
        i += used;
      } else {
        text += c;
        i++;
      }
    }
    words.push({ text: text.replace(/%%/g, '%'), start, end: i });
  }
  return words;
}

function toRaw(word: LineWord, line: LogicalLine, path: string): RawWord {
  const start = line.map[word.start];
  const last = line.map[word.end - 1];
  if (start === undefined || last === undefined) throw new KubeletUnitInvalidError(`internal: word outside its line in ${path}`);
  return { text: word.text, path, start, end: last + 1 };
}

const EXEC_PREFIXES = '-@+!:|';

/** Parse the unit file and its drop-ins, in systemd's order, into the kubelet-relevant settings. */
export function parseUnitFiles(units: readonly UnitFileInput[]): ParsedUnits {
  let execStart: ExecStartDef | undefined;
  let environment: UnitEnvironmentAssignment[] = [];
  let environmentFiles: EnvironmentFileRef[] = [];
  const warnings: string[] = [];
  for (const unit of units) {
    let section = '';
    for (const line of logicalLines(unit.content)) {
      const t = line.text.trim();
      if (t.startsWith('[')) {
        section = t.endsWith(']') ? t.slice(1, -1) : '';
        continue;
      }
      const eq = line.text.indexOf('=');
      if (eq < 0) {
        warnings.push(`${unit.path}: ignored line without "=": ${t.slice(0, 80)}`);
        continue;
      }
      if (section !== 'Service') continue;
      const key = line.text.slice(0, eq).trim();
      const where = `${unit.path} ${key}=`;
      if (key === 'ExecStart') {
        const words = splitWords(line.text, eq + 1, where);
        if (words.length === 0) {
          execStart = undefined;
          continue;
        }
        const raw = words.map((w) => toRaw(w, line, unit.path));
        const first = raw[0] as RawWord;
        let prefix = '';
        let k = 0;
        while (k < first.text.length && EXEC_PREFIXES.includes(first.text[k] as string)) k++;
        prefix = first.text.slice(0, k);
        const head: RawWord = { ...first, text: first.text.slice(k) };
        execStart = { path: unit.path, prefix, words: [head, ...raw.slice(1)] };
      } else if (key === 'Environment') {
        const words = splitWords(line.text, eq + 1, where);
        if (words.length === 0) {
          environment = [];
          continue;
        }
        for (const w of words) {
          const i = w.text.indexOf('=');
          const name = i < 0 ? '' : w.text.slice(0, i);
          if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
            warnings.push(`${where}: ignored invalid assignment ${JSON.stringify(w.text)}`);
            continue;
          }
          environment.push({ key: name, value: w.text.slice(i + 1), word: toRaw(w, line, unit.path) });
        }
      } else if (key === 'EnvironmentFile') {
        const words = splitWords(line.text, eq + 1, where);
        if (words.length === 0) {
          environmentFiles = [];
          continue;
        }
        for (const w of words) {
          const optional = w.text.startsWith('-');
          environmentFiles.push({ path: optional ? w.text.slice(1) : w.text, optional, unit: unit.path });
        }
      }
    }
  }
  return { execStart, environment, environmentFiles, warnings };
}

/** Write one unit-file word so that parseUnitFiles reads back exactly `text`. */
export function quoteUnitWord(text: string): string {
  const escaped = text.replace(/%/g, '%%');
  if (escaped !== '' && !/[\s"'\\]/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\t/g, '\\t')}"`;
}
