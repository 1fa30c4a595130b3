import { describe, expect, it } from 'vitest';
import { createExecaStreamSpawn } from '../../agent/systemd/index.ts';

describe('execa StreamSpawn (host)', () => {
  const spawn = createExecaStreamSpawn({ killGraceMs: 1_000 });

  it('streams lines as they are written and stops the child', async () => {
    const p = spawn('sh', ['-c', 'echo one; echo two; exec sleep 30']);
    const got: string[] = [];
    for await (const line of p.lines) {
      got.push(line);
      if (got.length === 2) break;
    }
    const started = performance.now();
    const exit = await p.stop();
    expect(got).toEqual(['one', 'two']);
    expect(exit.signal).toBe('SIGTERM');
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(await p.stop()).toBe(exit);
  });

  it('escalates to SIGKILL when the child ignores SIGTERM', async () => {
    const p = spawn('sh', ['-c', "trap '' TERM; echo ready; while :; do sleep 0.1; done"]);
    for await (const line of p.lines) if (line === 'ready') break;
    expect((await p.stop()).signal).toBe('SIGKILL');
  });

  it('passes only the given environment and reports exit and stderr', async () => {
    const p = spawn('/bin/sh', ['-c', 'echo "v=$KIP_X h=${HOME:-none}"; echo bad >&2; exit 4'], { env: { KIP_X: 'y' } });
    const lines: string[] = [];
    for await (const l of p.lines) lines.push(l);
    const exit = await p.done;
    expect(lines).toEqual(['v=y h=none']);
    expect(exit).toMatchObject({ exitCode: 4, stderr: 'bad\n' });
  });

  it('reports a program that cannot start through done, not a throw', async () => {
    const p = spawn('/nonexistent/kip-journalctl', []);
    for await (const _ of p.lines) throw new Error('no output expected');
    const exit = await p.done;
    expect(exit.exitCode).toBeUndefined();
    expect(exit.stderr).toMatch(/ENOENT|not found|no such file/i);
  });
});
