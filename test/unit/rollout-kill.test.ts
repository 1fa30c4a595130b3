/**
 * The coordinator killed with kill -9 at points through a run, then resumed by a new process:
 * no node upgraded twice, none skipped, never more than --max-concurrency agent runs at once,
 * the journal consistent.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, maxOverlap, RUN_ID } from './engine-setup.ts';
import { WorldFile } from './engine-fakes.ts';

const child = join(import.meta.dirname, 'engine-child.ts');
const repo = join(import.meta.dirname, '../..');
// One process (no tsx wrapper in between), so SIGKILL hits the coordinator itself.
const node = (args: string[]) => execa(process.execPath, ['--import', 'tsx', child, ...args], { cwd: repo, reject: false, timeout: 60_000 });
const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** Runs the child until its `killAfter`-th progress line, then kill -9. */
async function runUntilKilled(dir: string, killAfter: number): Promise<string[]> {
  const p = node([dir, 'create']);
  const lines: string[] = [];
  let buf = '';
  await new Promise<void>((resolve) => {
    p.stdout!.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      const parts = buf.split('\n');
      buf = parts.pop() ?? '';
      for (const l of parts) {
        lines.push(l);
        if (lines.length === killAfter) p.kill('SIGKILL');
      }
    });
    void p.then(() => resolve());
  });
  const r = await p;
  expect(r.signal).toBe('SIGKILL');
  return lines;
}

describe('coordinator killed with kill -9 mid-run', () => {
  it.each([1, 2, 3, 5, 8])('after progress line %i: resume finishes every node exactly once within the concurrency', async (killAfter) => {
    const dir = await mkdtemp(join(tmpdir(), 'kip-kill-'));
    dirs.push(dir);
    const before = await runUntilKilled(dir, killAfter);
    expect(before.some((l) => l.startsWith('OUTCOME'))).toBe(false);
    const resumed = await node([dir, 'resume']);
    expect(resumed.exitCode, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain('OUTCOME {"phase":"succeeded"}');
    const w = new WorldFile(join(dir, 'world.json')).read();
    const byNode = new Map<string, number>();
    for (const e of w.executions) byNode.set(e.node, (byNode.get(e.node) ?? 0) + 1);
    expect([...byNode.keys()].sort()).toEqual(w.nodes.map((n) => n.name));
    expect([...byNode.values()].every((n) => n === 1)).toBe(true);
    expect(maxOverlap(w)).toBeLessThanOrEqual(2);
    const store = openStore(dir);
    expect(store.getRun(RUN_ID)?.phase).toBe('succeeded');
    expect(store.nodes(RUN_ID).map((n) => `${n.node}:${n.phase}:${n.attempt}`)).toEqual(w.nodes.map((n) => `${n.name}:succeeded:1`));
    expect(store.openActions(RUN_ID)).toEqual([]);
    // a node in flight at the kill was re-attached, not started again
    if (before.filter((l) => l.includes('(agent run')).length > before.filter((l) => l.includes(': kubelet v1.17.17')).length) {
      expect(resumed.stdout).toContain('re-attaching to agent run');
    }
    store.close();
  }, 120_000);
});
