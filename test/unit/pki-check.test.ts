import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../coordinator/cli.ts';
import { parsePkiArgs, runPkiCommand } from '../../coordinator/commands/pki.ts';
import { FakeClock } from '../../lib/clock.ts';
import { recordingIo } from './cli-fakes.ts';

let dir = '';
const quiet = { stdout: () => undefined, stderr: () => undefined, readInput: async () => '' };
const f = (n: string) => path.join(dir, n);

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kip-pkicheck-'));
  await runPkiCommand(parsePkiArgs(['init', '--dir', dir]), quiet);
  await runPkiCommand(parsePkiArgs(['issue', '--agent', 'n1', '--ip', '10.0.0.1', '--dir', dir]), quiet);
  await runPkiCommand(parsePkiArgs(['issue', '--agent', 'old', '--ip', '10.0.0.2', '--days', '1', '--dir', dir]), quiet, new FakeClock(Date.now() - 10 * 86_400_000));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('kip pki check', () => {
  it('prints the subject and expiry of a good set (exit 0)', async () => {
    const io = recordingIo();
    expect(await main(['pki', 'check', '--ca', f('ca.crt'), '--cert', f('agent-n1.crt'), '--key', f('agent-n1.key')], io)).toBe(0);
    expect(JSON.parse(io.out)).toMatchObject({ cert: f('agent-n1.crt'), daysLeft: 364 });
  });

  it('names the file and the fix: expired, expiring within --min-days, key of another certificate, missing', async () => {
    const cases: [string[], RegExp][] = [
      [['--cert', f('agent-old.crt'), '--key', f('agent-old.key')], /agent-old\.crt expired on .*issue a new one \(kip pki issue \.\.\. --force\)/],
      [['--cert', f('agent-n1.crt'), '--key', f('agent-n1.key'), '--min-days', '400'], /expires on .*within --min-days 400/],
      [['--cert', f('agent-n1.crt'), '--key', f('agent-old.key')], /agent-old\.key does not belong to certificate .*agent-n1\.crt/],
      [['--cert', f('nope.crt'), '--key', f('agent-n1.key')], /nope\.crt cannot be read \(ENOENT\)/],
    ];
    for (const [args, re] of cases) {
      const io = recordingIo();
      expect(await main(['pki', 'check', '--ca', f('ca.crt'), ...args], io)).toBe(1);
      expect(io.err).toMatch(re);
    }
    const usage = recordingIo();
    expect(await main(['pki', 'check', '--ca', f('ca.crt')], usage)).toBe(2);
  });
});
