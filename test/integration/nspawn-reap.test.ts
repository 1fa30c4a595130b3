import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBaseImage, mountPoints, reapOrphanedNodes } from '../../scripts/nspawn/index.ts';

const REPO = resolve(import.meta.dirname, '..', '..');

/** Exists and is not a zombie (reparented zombies may wait long for their reaper here). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !['Z', 'X'].includes(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return false;
  }
}

// A process that boots a node, reports it, and is then SIGKILLed: it cannot clean up.
const CHILD = `
import { bootNode, ensureBaseImage } from './scripts/nspawn/index.ts';
const base = await ensureBaseImage();
const node = await bootNode({ name: 'kip-orphan', base, workDir: process.env.KIP_WORKDIR });
await node.waitForSystemd(90_000);
console.log(JSON.stringify({ root: node.root, nspawnPid: node.nspawnPid, leaderPid: node.leaderPid, pids: await node.pids() }));
setInterval(() => {}, 60_000);
`;

describe('reapOrphanedNodes', () => {
  let tmp = '';
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'kip-nspawn-reap-'));
    await ensureBaseImage();
  }, 20 * 60_000);
  afterAll(async () => {
    await reapOrphanedNodes();
    if (tmp !== '') await rm(tmp, { recursive: true, force: true });
  }, 120_000);

  it('kills, unmounts and removes the nodes of a dead process, and only those', async () => {
    const child = execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD], {
      cwd: REPO,
      env: { KIP_WORKDIR: join(tmp, 'orphan') },
      reject: false,
      buffer: false,
      stdin: 'ignore',
    });
    let report: { root: string; nspawnPid: number; leaderPid: number; pids: number[] } | undefined;
    try {
      if (child.stdout === null) throw new Error('no stdout');
      const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
      for await (const line of createInterface({ input: child.stdout })) {
        if (line.startsWith('{"root"')) {
          report = JSON.parse(line) as typeof report;
          break;
        }
      }
      clearTimeout(timer);
    } finally {
      child.kill('SIGKILL');
      await child;
    }
    if (report === undefined) throw new Error('child did not boot its node');
    // The creator is gone, its node is not: the situation reaping exists for.
    expect(alive(report.nspawnPid)).toBe(true);
    expect(await mountPoints()).toContain(report.root);

    const result = await reapOrphanedNodes();
    expect(result.mounts).toContain(report.root);
    expect(result.cgroups.some((c) => c.startsWith(`${String(child.pid)}-kip-orphan-`))).toBe(true);
    for (const pid of report.pids) expect(alive(pid), `pid ${pid}`).toBe(false);
    expect(await mountPoints()).not.toContain(report.root);
    const left = await readdir('/sys/fs/cgroup/unified/kip-nspawn').catch(() => readdir('/sys/fs/cgroup/kip-nspawn')).catch(() => []);
    expect(left.filter((c) => c.startsWith(`${String(child.pid)}-`))).toEqual([]);
    // Nothing left to do the second time.
    expect(await reapOrphanedNodes()).toEqual({ cgroups: [], mounts: [] });
  }, 180_000);
});
