// Issue 8 defects 5 and 7: recovery finds every unfinished run, and never leaves the kubelet
// stopped because the journal cannot be written.
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeFileSystem, type FileSystem } from '../../agent/upgrade/fs.ts';
import { waitFor } from '../../lib/poll.ts';
import { crashAt, fakeBinary, makeHarness, sha256, BIN, type Harness, collect } from './upgrade-fakes.ts';

const NEW = 'v1.11.10';
let h: Harness;
afterEach(async () => {
  await h?.cleanup();
});

/** A file system on which every write under `dir` fails as on a read-only or full disk. */
function unwritable(dir: string): FileSystem {
  const fail = (file: string): Promise<never> => Promise.reject(Object.assign(new Error(`EROFS: read-only file system, open '${file}'`), { code: 'EROFS' }));
  return {
    ...nodeFileSystem,
    writeAtomic(file, data, mode) {
      return file.startsWith(dir) ? fail(file) : nodeFileSystem.writeAtomic.call(this, file, data, mode);
    },
    copyAtomic(from, to, mode) {
      return to.startsWith(dir) ? fail(to) : nodeFileSystem.copyAtomic.call(this, from, to, mode);
    },
  };
}

describe('recovery with a journal that cannot be written (defect 5)', () => {
  it.each(['STOP_KUBELET', 'SWAP_BINARY', 'START_KUBELET'])('kill -9 after %s, restart with recovery: rollback on a read-only state dir: the kubelet on disk runs and the run says why', async (step) => {
    h = await makeHarness();
    const { hook, reached } = crashAt(step, 'after');
    const first = h.makeAgent({ fault: hook });
    await first.agent.start();
    await h.stageBuffer(first.stage, NEW, fakeBinary(NEW));
    await first.agent.begin({ runId: 'crashy', targetVersion: NEW });
    await reached;
    if (step !== 'START_KUBELET') expect(h.node.active).toBe(false);
    const second = h.makeAgent({ recovery: 'rollback', fs: unwritable(h.stateDir) });
    await second.agent.start();
    await second.agent.whenIdle();
    expect(h.node.active).toBe(true);
    const rec = await second.agent.getRun('crashy');
    expect(rec.phase).toBe('RUN_FAILED');
    expect(rec.errorCode).toBe('JOURNAL_UNWRITABLE');
    expect(rec.errorMessage).toMatch(/EROFS/);
    expect(rec.errorMessage).toMatch(/started the kubelet on disk/);
    // a follower of the run hears the end instead of waiting for ever
    const events = await collect(second.agent.events('crashy'));
    expect(events.at(-1)).toMatchObject({ phase: 'RUN_FAILED', errorCode: 'JOURNAL_UNWRITABLE' });
    expect(second.agent.runInProgress()).toBe(false);
  });
});

describe('a run saved but never marked current (defect 7)', () => {
  async function orphan(h: Harness): Promise<void> {
    // The agent "dies" between saving the new run and marking it current.
    let dead = false;
    const dying: FileSystem = {
      ...nodeFileSystem,
      writeAtomic(file, data, mode) {
        if (dead) return new Promise<void>(() => {});
        if (path.basename(file) === 'current-run' && data === 'orphan') {
          dead = true;
          return new Promise<void>(() => {});
        }
        return nodeFileSystem.writeAtomic.call(this, file, data, mode);
      },
    };
    const first = h.makeAgent({ fs: dying });
    await first.agent.start();
    await h.stageBuffer(first.stage, NEW, fakeBinary(NEW));
    void first.agent.begin({ runId: 'orphan', targetVersion: NEW });
    await waitFor('the orphan run to be saved', async () => (dead ? true : undefined), { timeoutMs: 5_000, intervalMs: 5 });
    await access(path.join(h.stateDir, 'runs/orphan.json'));
  }

  it('is found at start-up and driven to the end; its event stream ends', async () => {
    h = await makeHarness();
    await orphan(h);
    const second = h.makeAgent();
    await second.agent.start();
    await second.agent.whenIdle();
    const rec = await second.agent.getRun('orphan');
    expect(rec.phase).toBe('RUN_SUCCEEDED');
    expect((await collect(second.agent.events('orphan'))).at(-1)).toMatchObject({ step: 'DONE', phase: 'RUN_SUCCEEDED' });
    expect(sha256(await readFile(h.node.host(BIN)))).toBe(sha256(fakeBinary(NEW)));
    // it is the last run now: GetRun without an id and Rollback name it
    expect((await second.agent.getRun()).runId).toBe('orphan');
    // a retry with the same id returns the finished run
    expect((await second.agent.begin({ runId: 'orphan', targetVersion: NEW })).phase).toBe('RUN_SUCCEEDED');
  });

  it('is found when rolling back is the recovery', async () => {
    h = await makeHarness();
    await orphan(h);
    const second = h.makeAgent({ recovery: 'rollback' });
    await second.agent.start();
    await second.agent.whenIdle();
    expect((await second.agent.getRun('orphan')).phase).toBe('RUN_ROLLED_BACK');
    expect(sha256(await readFile(h.node.host(BIN)))).toBe(sha256(h.oldBinary));
    expect(h.node.active).toBe(true);
  });
});
