// The installed entry point, as an operator runs it: `npm exec -- kip hash ...` resolves to bin/kip.mjs.
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const repo = join(import.meta.dirname, '../..');

describe('bin/kip.mjs', () => {
  it('hashes a PodList from standard input and exits 0', async () => {
    const r = await execa('node', [join(repo, 'bin/kip.mjs'), 'hash', '--from', '1.10', '--to', '1.17', '-'], {
      inputFile: join(repo, 'examples/podlist.json'), reject: false, timeout: 60_000,
    });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('1.15 -> 1.16: 9 of 9 containers change hash');
    expect(r.stdout).toMatch(/total: 9 of 9 containers/);
  });

  it('exits 2 on malformed input with the message on stderr', async () => {
    const r = await execa('node', [join(repo, 'bin/kip.mjs'), 'hash', '--kube-version', '1.17', '-'], { input: '{"name":', reject: false, timeout: 60_000 });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('malformed JSON');
    expect(r.stdout).toBe('');
  });
});
