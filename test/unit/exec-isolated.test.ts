/**
 * lib/exec.ts's isolatedExec, the Exec of binaries under inspection (issue 8, defect 12): a
 * timeout bounds the call even when a grandchild holds the output pipe, and nothing the program
 * started survives it. At 9fc2631 the same scripts through execaExec (the only Exec then) kept
 * the call pending until the grandchild `sleep` exited.
 */
import { randomInt } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { isolatedExec, ExecSpawnError } from '../../lib/exec.ts';
import { waitFor } from '../../lib/poll.ts';

/** A sleep duration no other process on the machine uses, to find our grandchild in /proc. */
function marker(): string {
  return `300.${randomInt(100_000, 999_999)}`;
}

async function sleepersWith(mark: string): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const cmd = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (cmd.split('\0').includes(mark)) pids.push(Number(name));
  }
  return pids;
}

async function gone(mark: string): Promise<void> {
  await waitFor(`no sleep ${mark} left`, async () => ((await sleepersWith(mark)).length === 0 ? true : undefined), { timeoutMs: 5_000, intervalMs: 50 });
}

describe('isolatedExec', () => {
  it('returns the output of a program that leaves a background child holding its stdout, and kills that child', async () => {
    const mark = marker();
    const started = Date.now();
    const r = await isolatedExec('sh', ['-c', `sleep ${mark} & echo Kubernetes v1.11.10`], { timeoutMs: 5_000, killGraceMs: 200 });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(r).toMatchObject({ exitCode: 0, timedOut: false, stdout: 'Kubernetes v1.11.10\n' });
    await gone(mark);
  });

  it('at the deadline kills the whole group, not only the child, and does not wait for the pipe', async () => {
    const mark = marker();
    const started = Date.now();
    const r = await isolatedExec('sh', ['-c', `sleep ${mark}; echo Kubernetes v1.11.10`], { timeoutMs: 300, killGraceMs: 200 });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(r.timedOut).toBe(true);
    expect(r.stdout).toBe('');
    await gone(mark);
  });

  it('does not wait for a grandchild that left the group (setsid) longer than the grace', async () => {
    const mark = marker();
    const started = Date.now();
    const r = await isolatedExec('sh', ['-c', `setsid sleep ${mark} & echo done`], { timeoutMs: 5_000, killGraceMs: 200 });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(r).toMatchObject({ exitCode: 0, stdout: 'done\n' });
    for (const pid of await sleepersWith(mark)) process.kill(pid, 'SIGKILL');
  });

  it('returns exit status, stderr and input as data, and raises a typed error for a missing program', async () => {
    const r = await isolatedExec('sh', ['-c', 'cat; echo err >&2; exit 3'], { timeoutMs: 5_000, input: 'in\n' });
    expect(r).toMatchObject({ exitCode: 3, stdout: 'in\n', stderr: 'err\n', timedOut: false });
    await expect(isolatedExec('/nonexistent/kip-test-binary', [], { timeoutMs: 1_000 })).rejects.toBeInstanceOf(ExecSpawnError);
  });
});
