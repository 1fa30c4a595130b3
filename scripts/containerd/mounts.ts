import { readFile } from 'node:fs/promises';
import { KipError } from '../../lib/errors.ts';
import type { Exec } from '../../lib/exec.ts';

/** Mount points at or below dir, deepest first (from /proc/self/mountinfo, octal escapes decoded). */
export async function mountsUnder(dir: string): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const field = line.split(' ')[4];
    if (field === undefined) continue;
    const mp = field.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (mp === dir || mp.startsWith(prefix)) out.push(mp);
  }
  return [...new Set(out)].sort((a, b) => b.length - a.length);
}

/** Unmounts everything at or below dir; lazy unmount for what is busy. */
export async function unmountAllUnder(exec: Exec, dir: string): Promise<void> {
  const failed: string[] = [];
  for (const mp of await mountsUnder(dir)) {
    const r = await exec('umount', [mp], { timeoutMs: 15_000 });
    if (r.exitCode === 0) continue;
    const lazy = await exec('umount', ['-l', mp], { timeoutMs: 15_000 });
    if (lazy.exitCode !== 0 && (await mountsUnder(mp)).includes(mp)) failed.push(`${mp}: ${lazy.stderr.trim()}`);
  }
  if (failed.length > 0) throw new KipError('UNMOUNT_FAILED', `could not unmount: ${failed.join('; ')}`, { failed });
}
