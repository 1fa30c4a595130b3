import { describe, expect, it } from 'vitest';
import { execaExec, ExecSpawnError } from '../../lib/exec.ts';

describe('execaExec', () => {
  it('returns a failing exit status as data', async () => {
    const r = await execaExec('sh', ['-c', 'echo out; echo err >&2; exit 3'], { timeoutMs: 5_000 });
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toBe('out\n');
    expect(r.stderr).toBe('err\n');
    expect(r.timedOut).toBe(false);
  });
  it('hands output over as it arrives, before the program ends', async () => {
    const seen: string[] = [];
    let firstBeforeEnd = false;
    // The second line is printed only once the first was seen (the test writes the marker file).
    const dir = await import('node:fs/promises').then((f) => f.mkdtemp('/tmp/kip-exec-'));
    const r = await execaExec('sh', ['-c', `echo one >&2; while [ ! -e ${dir}/go ]; do sleep 0.05; done; echo two`], {
      timeoutMs: 20_000,
      onOutput: (stream, chunk) => {
        seen.push(`${stream}:${chunk.trim()}`);
        if (chunk.includes('one')) {
          firstBeforeEnd = true;
          void import('node:fs/promises').then((f) => f.writeFile(`${dir}/go`, ''));
        }
      },
    });
    expect(firstBeforeEnd).toBe(true);
    expect(seen).toEqual(['stderr:one', 'stdout:two']);
    expect(r.stdout).toBe('two\n');
    expect(r.stderr).toBe('one\n');
  });
  it('kills a child that outlives its timeout', async () => {
    const r = await execaExec('sleep', ['5'], { timeoutMs: 100, killGraceMs: 100 });
    expect(r.timedOut).toBe(true);
    expect(r.durationMs).toBeLessThan(4_000);
  });
  it('raises a typed error when the program does not exist', async () => {
    await expect(execaExec('/nonexistent/kip-test-binary', [], { timeoutMs: 1_000 })).rejects.toBeInstanceOf(ExecSpawnError);
  });
});
