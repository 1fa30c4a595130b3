// Issue 8 (smaller): a new directory of the journal or the backup is fsynced into its parent, so
// a power cut after a step cannot lose the run's file or its backup with the directory entry.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeFileSystem, type FileSystem } from '../../agent/upgrade/fs.ts';
import { fakeBinary, makeHarness, type Harness } from './upgrade-fakes.ts';

const NEW = 'v1.11.10';
let h: Harness;
afterEach(async () => {
  await h?.cleanup();
});

async function dirsUnder(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const name of await readdir(d)) {
      const p = path.join(d, name);
      if ((await stat(p)).isDirectory()) {
        out.push(p);
        await walk(p);
      }
    }
  };
  await walk(root);
  return out;
}

describe('fsync of parent directories', () => {
  it('every directory the agent creates for its journal and backups is fsynced into its parent', async () => {
    h = await makeHarness();
    const synced = new Set<string>();
    const recording: FileSystem = {
      ...nodeFileSystem,
      async fsyncDir(dir) {
        synced.add(dir);
        await nodeFileSystem.fsyncDir.call(this, dir);
      },
    };
    const { agent, stage } = h.makeAgent({ fs: recording });
    await agent.start();
    await h.stageBuffer(stage, NEW, fakeBinary(NEW));
    await agent.begin({ runId: 'r', targetVersion: NEW });
    await agent.whenIdle();
    expect((await agent.getRun('r')).phase).toBe('RUN_SUCCEEDED');
    const created = (await dirsUnder(h.stateDir)).filter((d) => !d.includes(`${path.sep}binaries`) && !d.includes('faults-fired'));
    expect(created).toEqual(expect.arrayContaining([path.join(h.stateDir, 'runs'), path.join(h.stateDir, 'backups', 'r', 'files')]));
    const missing = [h.stateDir, ...created].map((d) => path.dirname(d)).filter((parent) => !synced.has(parent));
    expect(missing).toEqual([]);
  });
});
