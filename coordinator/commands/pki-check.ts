/**
 * `kip pki check --ca FILE --cert FILE --key FILE [--min-days N]`: the checks an agent makes on
 * its certificates at start (lib/pki/files.ts readCheckedTls: readable, PEM, key matches the
 * certificate, signed by the CA) plus expiry, run where the files are before they are installed
 * (the Ansible role runs it on the controller, so a bad file never reaches a node). Exit 0 with
 * one JSON line, 1 naming the file and the fix, 2 on a bad command line.
 */
import { parseArgs } from 'node:util';
import { systemClock, type Clock } from '../../lib/clock.ts';
import { InvalidInputError } from '../../lib/errors.ts';
import { PkiFileError, readCheckedTls } from '../../lib/pki/files.ts';
import { EXIT_OK, type CliIo } from '../io.ts';

export const PKI_CHECK_USAGE = 'kip pki check --ca FILE --cert FILE --key FILE [--min-days N]';
const DAY_MS = 86_400_000;

export async function runPkiCheck(argv: readonly string[], io: CliIo, clock: Clock = systemClock): Promise<number> {
  let v;
  try {
    v = parseArgs({ args: [...argv], options: { ca: { type: 'string' }, cert: { type: 'string' }, key: { type: 'string' }, 'min-days': { type: 'string' } }, strict: true }).values;
  } catch (err) {
    throw new InvalidInputError('CLI_USAGE', `${err instanceof Error ? err.message : String(err)}\nusage: ${PKI_CHECK_USAGE}`);
  }
  if (!v.ca || !v.cert || !v.key) throw new InvalidInputError('CLI_USAGE', `kip pki check needs --ca, --cert and --key\nusage: ${PKI_CHECK_USAGE}`);
  const minDays = v['min-days'] === undefined ? 0 : Number(v['min-days']);
  if (!Number.isInteger(minDays) || minDays < 0) throw new InvalidInputError('CLI_USAGE', `--min-days ${v['min-days'] ?? ''}: a whole number of days`);
  const checked = await readCheckedTls({ ca: v.ca, cert: v.cert, key: v.key });
  const left = checked.notAfterMs - clock.now();
  if (left <= 0) {
    throw new PkiFileError('PKI_EXPIRED', `certificate ${v.cert} expired on ${new Date(checked.notAfterMs).toISOString()}; issue a new one (kip pki issue ... --force)`, { cert: v.cert, notAfterMs: checked.notAfterMs });
  }
  if (left < minDays * DAY_MS) {
    throw new PkiFileError('PKI_EXPIRES_SOON', `certificate ${v.cert} expires on ${new Date(checked.notAfterMs).toISOString()}, within --min-days ${minDays}; issue a new one (kip pki issue ... --force)`, { cert: v.cert, notAfterMs: checked.notAfterMs });
  }
  io.stdout(`${JSON.stringify({ cert: v.cert, subject: checked.subject, notAfter: new Date(checked.notAfterMs).toISOString(), daysLeft: Math.floor(left / DAY_MS) })}\n`);
  return EXIT_OK;
}
