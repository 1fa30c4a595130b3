/**
 * Pure parsers for systemctl and journalctl output (systemd 252 formats; older ones where noted).
 */
import { SystemdArgumentError, SystemdParseError } from './errors.ts';

// ---------------------------------------------------------------------------------------------
// Arguments

/** Unit names as systemd allows them (unit_name_is_valid: [A-Za-z0-9:_.\\@-]); never option-like. */
const UNIT_RE = /^[A-Za-z0-9:_.\\@][A-Za-z0-9:_.\\@-]*$/;
const PROPERTY_RE = /^[A-Za-z][A-Za-z0-9]*$/;

export function assertUnitName(unit: string): void {
  if (!UNIT_RE.test(unit) || unit.length > 256) {
    throw new SystemdArgumentError(`invalid unit name ${JSON.stringify(unit)}`, { unit });
  }
}

export function assertPropertyName(property: string): void {
  if (!PROPERTY_RE.test(property)) {
    throw new SystemdArgumentError(`invalid property name ${JSON.stringify(property)}`, { property });
  }
}

// ---------------------------------------------------------------------------------------------
// systemctl show

/**
 * Parses `systemctl show` output: one `Key=Value` per line, split at the FIRST '=' (values may
 * contain '='). A key printed several times (EnvironmentFiles, ExecStart with several commands)
 * keeps every value, joined with '\n' in print order.
 */
export function parseShowOutput(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new SystemdParseError(`unexpected line in systemctl show output: ${JSON.stringify(line)}`, { line });
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    const prev = out[key];
    out[key] = prev === undefined ? value : `${prev}\n${value}`;
  }
  return out;
}

/** One command of ExecStart/ExecStartPre/... as `systemctl show` prints it. */
export interface ExecCommand {
  readonly path: string;
  /**
   * argv split at white space. systemctl prints argv joined by single spaces with quotes
   * removed, so an argument that itself contains spaces cannot be told apart: see argvText.
   * `$VAR` references appear unexpanded.
   */
  readonly argv: readonly string[];
  /** argv exactly as printed. */
  readonly argvText: string;
  /** ignore_errors=yes ('-' prefix), or flags=ignore-failure in the ...Ex form. */
  readonly ignoreErrors: boolean;
  readonly startTime: string | undefined;
  readonly stopTime: string | undefined;
  /** pid of the last run; undefined when it never ran. */
  readonly pid: number | undefined;
  /** exited, killed, dumped, (null) while it runs. */
  readonly code: string | undefined;
  readonly status: string | undefined;
}

/**
 * Parses an ExecStart-like property:
 * `{ path=/usr/bin/kubelet ; argv[]=/usr/bin/kubelet --a=b $X ; ignore_errors=no ; start_time=[...] ; stop_time=[...] ; pid=59 ; code=(null) ; status=0/0 }`
 * (systemd's systemctl-show.c prints this shape since at least v219). argv may itself contain
 * " ; ", so it is taken up to the LAST " ; ignore_errors=" (or " ; flags=" for ExecStartEx).
 * Several commands come one per line (see parseShowOutput). Empty value: no command.
 */
export function parseExecCommands(value: string): ExecCommand[] {
  const out: ExecCommand[] = [];
  for (const raw of value.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (!line.startsWith('{ ') || !line.endsWith(' }')) throw new SystemdParseError(`unexpected exec command ${JSON.stringify(line)}`, { value: line });
    const body = line.slice(2, -2);
    const argvMarker = ' ; argv[]=';
    if (!body.startsWith('path=')) throw new SystemdParseError(`exec command without path= ${JSON.stringify(line)}`, { value: line });
    const argvAt = body.indexOf(argvMarker);
    if (argvAt < 0) throw new SystemdParseError(`exec command without argv[]= ${JSON.stringify(line)}`, { value: line });
    const path = body.slice('path='.length, argvAt);
    const afterArgv = body.slice(argvAt + argvMarker.length);
    const tailAt = Math.max(afterArgv.lastIndexOf(' ; ignore_errors='), afterArgv.lastIndexOf(' ; flags='));
    if (tailAt < 0) throw new SystemdParseError(`exec command without ignore_errors=/flags= ${JSON.stringify(line)}`, { value: line });
    const argvText = afterArgv.slice(0, tailAt);
    const fields = new Map<string, string>();
    for (const part of afterArgv.slice(tailAt + 3).split(' ; ')) {
      const eq = part.indexOf('=');
      if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1));
    }
    const bracket = (v: string | undefined): string | undefined => {
      if (v === undefined) return undefined;
      const inner = v.startsWith('[') && v.endsWith(']') ? v.slice(1, -1) : v;
      return inner === 'n/a' || inner === '' ? undefined : inner;
    };
    const pidText = fields.get('pid');
    const pid = pidText !== undefined && /^\d+$/.test(pidText) && pidText !== '0' ? Number(pidText) : undefined;
    const flags = fields.get('flags');
    out.push({
      path,
      argv: argvText.split(/\s+/).filter((s) => s !== ''),
      argvText,
      ignoreErrors: fields.get('ignore_errors') === 'yes' || (flags !== undefined && flags.split('|').includes('ignore-failure')),
      startTime: bracket(fields.get('start_time')),
      stopTime: bracket(fields.get('stop_time')),
      pid,
      code: fields.get('code'),
      status: fields.get('status'),
    });
  }
  return out;
}

export interface EnvironmentFile {
  readonly path: string;
  /** True for `EnvironmentFile=-/path` (a missing file is fine). */
  readonly ignoreErrors: boolean;
}

/** Parses EnvironmentFiles: `/etc/default/kubelet (ignore_errors=yes)`, one per line. */
export function parseEnvironmentFiles(value: string): EnvironmentFile[] {
  const out: EnvironmentFile[] = [];
  for (const raw of value.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const m = /^(.*) \(ignore_errors=(yes|no)\)$/.exec(line);
    out.push(m?.[1] !== undefined ? { path: m[1], ignoreErrors: m[2] === 'yes' } : { path: line, ignoreErrors: false });
  }
  return out;
}

/**
 * Parses a systemd timestamp property (ExecMainStartTimestamp, ActiveEnterTimestamp, ...) into
 * microseconds since the epoch; undefined for '', 'n/a' and '0' (never happened).
 * Accepts `Fri 2026-11-27 02:52:26 UTC` (weekday optional, fraction optional: the adapter runs
 * systemctl with TZ=UTC so the zone is always UTC) and `@1795747946` (--timestamp=unix).
 * Pretty timestamps are whole seconds: sub-second ordering needs the ...Monotonic property.
 */
export function parseTimestampUsec(value: string): bigint | undefined {
  const v = value.trim();
  if (v === '' || v === 'n/a' || v === '0') return undefined;
  const unix = /^@(\d+)(?:\.(\d{1,6}))?$/.exec(v);
  if (unix?.[1] !== undefined) return BigInt(unix[1]) * 1_000_000n + BigInt((unix[2] ?? '').padEnd(6, '0') || '0');
  const m = /^(?:[A-Za-z]{3} )?(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))? (UTC|GMT|[+-]\d{2}:?\d{2})$/.exec(v);
  if (m === null) throw new SystemdParseError(`unsupported timestamp ${JSON.stringify(v)} (expected UTC or @unix form)`, { value: v });
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (zone !== undefined && zone !== 'UTC' && zone !== 'GMT') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    ms -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  if (Number.isNaN(ms)) throw new SystemdParseError(`invalid timestamp ${JSON.stringify(v)}`, { value: v });
  return BigInt(ms) * 1_000n + BigInt((frac ?? '').padEnd(6, '0') || '0');
}

/** Parses a ...Monotonic property (microseconds since boot); undefined for 0 (never happened). */
export function parseMonotonicUsec(value: string): bigint | undefined {
  const v = value.trim();
  if (!/^\d+$/.test(v)) throw new SystemdParseError(`invalid monotonic timestamp ${JSON.stringify(value)}`, { value });
  const n = BigInt(v);
  return n === 0n ? undefined : n;
}

/** Parses MainPID / ExecMainPID; undefined for 0 (no main process). */
export function parsePid(value: string): number | undefined {
  const v = value.trim();
  if (!/^\d+$/.test(v)) throw new SystemdParseError(`invalid pid ${JSON.stringify(value)}`, { value });
  const n = Number(v);
  return n === 0 ? undefined : n;
}

/** The properties the helpers below read; pass them to Systemd.show. */
export const MAIN_PROCESS_PROPERTIES = ['MainPID', 'ExecMainStartTimestamp', 'ExecMainStartTimestampMonotonic', 'ExecMainPID'] as const;

function prop(props: Readonly<Record<string, string>>, name: string): string {
  const v = props[name];
  if (v === undefined) throw new SystemdParseError(`property ${name} missing from systemctl show output`, { property: name });
  return v;
}

export function mainPid(props: Readonly<Record<string, string>>): number | undefined {
  return parsePid(prop(props, 'MainPID'));
}

export function execMainStartTimestampUsec(props: Readonly<Record<string, string>>): bigint | undefined {
  return parseTimestampUsec(prop(props, 'ExecMainStartTimestamp'));
}

export function execMainStartMonotonicUsec(props: Readonly<Record<string, string>>): bigint | undefined {
  return parseMonotonicUsec(prop(props, 'ExecMainStartTimestampMonotonic'));
}

// ---------------------------------------------------------------------------------------------
// journalctl -o json

export interface JournalEntry {
  readonly cursor: string;
  readonly realtimeUsec: bigint;
  readonly message: string;
  readonly pid?: number;
  readonly priority?: number;
  /** UNIT (systemd's own messages about a unit) or else _SYSTEMD_UNIT (the unit's processes). */
  readonly unit?: string;
  /** Every field as text: byte arrays decoded as UTF-8, repeated fields joined with '\n'. */
  readonly fields: Readonly<Record<string, string>>;
}

function decodeValue(value: unknown, key: string): string | undefined {
  if (value === null) return undefined; // a field journalctl left out (too large without --all)
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    if (value.every((b) => typeof b === 'number')) {
      if (!value.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) {
        throw new SystemdParseError(`journal field ${key} is not a byte array`, { field: key });
      }
      return Buffer.from(value).toString('utf8');
    }
    // A field with several values: an array of strings or byte arrays.
    const parts = value.map((v) => decodeValue(v, key)).filter((v): v is string => v !== undefined);
    return parts.join('\n');
  }
  throw new SystemdParseError(`journal field ${key} has an unexpected type`, { field: key });
}

/** Parses one line of `journalctl -o json` output. */
export function parseJournalLine(line: string): JournalEntry {
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch (err) {
    throw new SystemdParseError('journalctl printed a line that is not JSON', { line: line.slice(0, 200) }, { cause: err });
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new SystemdParseError('journalctl printed JSON that is not an object', { line: line.slice(0, 200) });
  }
  const fields: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    const text = decodeValue(v, k);
    if (text !== undefined) fields[k] = text;
  }
  const cursor = fields.__CURSOR;
  const realtime = fields.__REALTIME_TIMESTAMP;
  if (cursor === undefined || realtime === undefined || !/^\d+$/.test(realtime)) {
    throw new SystemdParseError('journal entry without __CURSOR or __REALTIME_TIMESTAMP', { line: line.slice(0, 200) });
  }
  const int = (v: string | undefined): number | undefined => (v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined);
  const entry: { -readonly [K in keyof JournalEntry]: JournalEntry[K] } = {
    cursor,
    realtimeUsec: BigInt(realtime),
    message: fields.MESSAGE ?? '',
    fields,
  };
  const pid = int(fields._PID);
  if (pid !== undefined) entry.pid = pid;
  const priority = int(fields.PRIORITY);
  if (priority !== undefined) entry.priority = priority;
  const unit = fields.UNIT ?? fields._SYSTEMD_UNIT;
  if (unit !== undefined) entry.unit = unit;
  return entry;
}

/** journalctl's --since accepts `@<seconds>[.<fraction>]`. */
export function usecToSinceArg(usec: bigint): string {
  if (usec < 0n) throw new SystemdArgumentError('sinceUsec must not be negative', { sinceUsec: usec.toString() });
  return `@${(usec / 1_000_000n).toString()}.${(usec % 1_000_000n).toString().padStart(6, '0')}`;
}
