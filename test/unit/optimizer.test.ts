import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const probe = join(import.meta.dirname, '..', 'fixtures', 'optimizer', 'probe.ts');
const run = async (mode: string) => {
  const r = await execa(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', probe, mode], { reject: false, timeout: 60_000 });
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { outside: boolean; inside: boolean; after: boolean };
};

describe('lib/optimizer.ts: TurboFan only inside hot()', () => {
  it('a hot function is optimized only inside hot() once optimizeOnlyHotWork() ran', async () => {
    expect(await run('lean')).toEqual({ outside: false, inside: true, after: false });
  }, 90_000);

  it('without optimizeOnlyHotWork() V8 optimizes the same loop by itself (the control)', async () => {
    expect(await run('default')).toEqual({ outside: true, inside: true, after: true });
  }, 90_000);
});
