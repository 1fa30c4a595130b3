// Issue 8 defect 6: the agent checks the whole path by which the kubelet sees the skip file,
// before the run and after the new kubelet starts.
import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, collect, fakeBinary, makeHarness, runUpgrade, sha256, skipNow, startedAtSec, type Harness } from './upgrade-fakes.ts';

const NEW = 'v1.11.10';
let h: Harness;
afterEach(async () => {
  await h?.cleanup();
});


describe('the kubelet sees the skip file (defect 6)', () => {
  async function refused(h: Harness, code: string, pattern: RegExp): Promise<void> {
    const { agent, stage } = h.makeAgent();
    await agent.start();
    await h.stageBuffer(stage, NEW, fakeBinary(NEW));
    await expect(agent.begin({ runId: 'r', targetVersion: NEW })).rejects.toMatchObject({ code });
    const check = (await agent.preflight(NEW)).checks.find((c) => c.status === 'CHECK_FAIL');
    expect(check?.message).toMatch(pattern);
    expect(h.node.stops).toBe(0);
    expect(await skipNow(h)).toBeUndefined();
  }

  it.each([
    ['TemporaryFileSystem=/tmp', { temporaryFileSystem: ['/tmp:ro'] }, /TemporaryFileSystem=\/tmp/],
    ['RootDirectory', { rootDirectory: '/srv/kubelet-root' }, /RootDirectory=\/srv\/kubelet-root/],
    ['RootImage', { rootImage: '/srv/kubelet.raw' }, /RootImage=/],
    ['InaccessiblePaths', { inaccessiblePaths: ['-/tmp'] }, /InaccessiblePaths=\/tmp/],
    ['BindPaths over /tmp', { bindPaths: ['/var/lib/kubelet/tmp:/tmp:rbind'] }, /mounts \/var\/lib\/kubelet\/tmp over \/tmp/],
  ])('refuses a kubelet unit with %s covering the skip file', async (_name, opts, pattern) => {
    h = await makeHarness();
    h.node.mountOptions = opts;
    await refused(h, 'SKIP_FILE_HIDDEN', pattern);
  });

  it('a TemporaryFileSystem elsewhere is fine', async () => {
    h = await makeHarness();
    h.node.mountOptions = { temporaryFileSystem: ['/var/cache/kubelet'], bindPaths: ['/srv/a:/srv/b'] };
    const { record } = await runUpgrade(h);
    expect(record.phase).toBe('RUN_SUCCEEDED');
  });

  it("refuses when the agent's /tmp is not PID 1's", async () => {
    h = await makeHarness();
    h.node.agentTmp = 'private';
    await refused(h, 'SKIP_FILE_NOT_SHARED', /kip-agent's \/tmp is not the host's/);
  });

  it('rolls back at once when the new kubelet does not see the file (it wrote its own version)', async () => {
    h = await makeHarness();
    h.node.kubeletTmp = 'private';
    const started = Date.now();
    const { record, events } = await runUpgrade(h, { verifyTimeoutMs: 60_000 });
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(record.phase).toBe('RUN_ROLLED_BACK');
    const failed = events.find((e) => e.status === 'STEP_FAILED');
    expect(failed).toMatchObject({ step: 'VERIFY', errorCode: 'SKIP_FILE_NOT_SEEN' });
    expect(failed?.message).toMatch(new RegExp(`wrote its own \\(${NEW.replace(/\./g, '\\.')},\\d+\\)`));
    expect(record.errorMessage).toMatch(/did not see/);
    expect(sha256(await readFile(h.node.host(BIN)))).toBe(sha256(h.oldBinary));
    expect(h.node.active).toBe(true);
  });

  it('passes when the kubelet sees the very file the agent wrote', async () => {
    h = await makeHarness();
    const { record, events } = await runUpgrade(h);
    expect(record.phase).toBe('RUN_SUCCEEDED');
    expect(events.find((e) => e.step === 'VERIFY' && e.status === 'STEP_DONE')?.message).toMatch(/sees the skip file/);
  });
});
