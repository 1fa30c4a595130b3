/**
 * `kip pki`: the CA and the certificates of agents, coordinators and viewers (lib/pki). Parsing
 * (parsePkiArgs) is separate from the work (runPkiCommand), so the CLI framework can change
 * without touching either.
 *
 *   kip pki init [--dir DIR] [--name NAME] [--days N] [--force]
 *   kip pki issue --agent NODE --ip IP [--ip IP...] [--dns NAME...] [--dir DIR] [--days N] [--force]
 *   kip pki issue --coordinator NAME | --viewer NAME [--dir DIR] [--days N] [--force]
 *   kip pki check --ca FILE --cert FILE --key FILE [--min-days N]   (./pki-check.ts)
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { systemClock, type Clock } from '../../lib/clock.ts';
import { InvalidInputError } from '../../lib/errors.ts';
import { writePem } from '../../lib/pki/files.ts';
import type { IssueSpec } from '../../lib/pki/x509.ts';
import { EXIT_OK, type CliIo } from '../io.ts';
import { PKI_CHECK_USAGE, runPkiCheck } from './pki-check.ts';

export function pkiUsage(): string {
  return `usage:
  kip pki init [--dir DIR] [--name NAME] [--days N] [--force]
      a CA: DIR/ca.crt and DIR/ca.key (0600). Default DIR ./kip-pki, 3650 days.
  kip pki issue --agent NODE --ip IP [--ip IP ...] [--dns NAME ...] [--dir DIR] [--days N]
      agent server certificate DIR/agent-NODE.{crt,key}: serverAuth, the IPs and DNS names the
      coordinator dials (it verifies them).
  kip pki issue --coordinator NAME [--dir DIR] [--days N]
      client certificate DIR/coordinator-NAME.{crt,key}: may call everything.
  kip pki issue --viewer NAME [--dir DIR] [--days N]
      client certificate DIR/viewer-NAME.{crt,key}: read-only (mutating calls: PERMISSION_DENIED).
  ${PKI_CHECK_USAGE}
      the checks an agent makes at start (readable, key matches certificate, signed by the CA)
      plus expiry; one JSON line on success.
Issued certificates last 365 days by default; --force replaces existing files.`;
}

export type PkiCommand =
  | { readonly op: 'init'; readonly dir: string; readonly name: string; readonly days: number; readonly force: boolean }
  | { readonly op: 'issue'; readonly dir: string; readonly spec: IssueSpec; readonly days: number; readonly force: boolean };

const usage = (message: string) => new InvalidInputError('CLI_USAGE', `${message}\n${pkiUsage()}`);

function days(raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 36_500) throw usage(`--days ${raw}: a whole number of days from 1 to 36500`);
  return Number(raw);
}

export function parsePkiArgs(argv: readonly string[]): PkiCommand {
  const [op, ...rest] = argv;
  let parsed;
  try {
    parsed = parseArgs({
      args: [...rest],
      options: {
        dir: { type: 'string' }, name: { type: 'string' }, days: { type: 'string' }, force: { type: 'boolean' },
        agent: { type: 'string' }, coordinator: { type: 'string' }, viewer: { type: 'string' },
        ip: { type: 'string', multiple: true }, dns: { type: 'string', multiple: true },
      },
      allowPositionals: false,
      strict: true,
    }).values;
  } catch (err) {
    throw usage(err instanceof Error ? err.message : String(err));
  }
  const dir = path.resolve(parsed.dir ?? 'kip-pki');
  const force = parsed.force ?? false;
  if (op === 'init') {
    for (const k of ['agent', 'coordinator', 'viewer', 'ip', 'dns'] as const) if (parsed[k] !== undefined) throw usage(`--${k} belongs to kip pki issue`);
    return { op, dir, name: parsed.name ?? 'kip-ca', days: days(parsed.days, 3650), force };
  }
  if (op === 'issue') {
    const kinds = (['agent', 'coordinator', 'viewer'] as const).filter((k) => parsed[k] !== undefined);
    if (kinds.length !== 1) throw usage('kip pki issue needs exactly one of --agent NODE, --coordinator NAME, --viewer NAME');
    const kind = kinds[0] ?? 'agent';
    const name = parsed[kind] ?? '';
    if (kind !== 'agent' && (parsed.ip || parsed.dns)) throw usage('--ip and --dns are for --agent certificates');
    const spec: IssueSpec = kind === 'agent' ? { kind: 'agent', name, ips: parsed.ip ?? [], dns: parsed.dns ?? [] } : { kind: 'client', name, role: kind };
    if (kind === 'agent' && (parsed.ip ?? []).length === 0) throw usage('--agent needs --ip IP (the address the coordinator dials); add --dns NAME for a name');
    return { op, dir, spec, days: days(parsed.days, 365), force };
  }
  throw usage(op === undefined ? 'kip pki needs init or issue' : `unknown kip pki operation ${JSON.stringify(op)}`);
}

export function certBaseName(spec: IssueSpec): string {
  return spec.kind === 'agent' ? `agent-${spec.name}` : `${spec.role}-${spec.name}`;
}

export async function runPkiCommand(cmd: PkiCommand, io: CliIo, clock: Clock = systemClock): Promise<number> {
  // Loaded only here: @peculiar/x509 and its ASN.1 schemas would otherwise slow every kip command.
  const { createCa, issue } = await import('../../lib/pki/x509.ts');
  // Backdated a minute: a node whose clock is slightly behind must not see "not yet valid".
  const validity = { notBeforeMs: clock.now() - 60_000, days: cmd.days };
  if (cmd.op === 'init') {
    const ca = await createCa(cmd.name, validity);
    const files = await writePem(cmd.dir, 'ca', ca, { force: cmd.force });
    io.stdout(`CA ${cmd.name}: ${files.cert}, key ${files.key} (0600; keep it off the nodes)\n`);
    return EXIT_OK;
  }
  const read = async (f: string) => {
    try {
      return await readFile(path.join(cmd.dir, f), 'utf8');
    } catch {
      throw new InvalidInputError('PKI_NO_CA', `no CA in ${cmd.dir} (${f} unreadable): run kip pki init --dir ${cmd.dir} first`, { dir: cmd.dir });
    }
  };
  const ca = { cert: await read('ca.crt'), key: await read('ca.key') };
  const pem = await issue(ca, cmd.spec, validity);
  const files = await writePem(cmd.dir, certBaseName(cmd.spec), pem, { force: cmd.force });
  io.stdout(`${certBaseName(cmd.spec)}: ${files.cert}, key ${files.key} (0600), valid ${cmd.days} days\n`);
  return EXIT_OK;
}

export async function runPki(argv: readonly string[], io: CliIo): Promise<number> {
  if (argv[0] === 'check') return runPkiCheck(argv.slice(1), io);
  return runPkiCommand(parsePkiArgs(argv), io);
}
