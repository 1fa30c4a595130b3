// Issue 8 defect 3: on rollback the skip file names the version rolled back from, so the old
// kubelet skips every container the new one started or re-labelled.
import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, collect, fakeBinary, makeHarness, runUpgrade, sha256, skipNow, startedAtSec, type Harness } from './upgrade-fakes.ts';

const NEW = 'v1.11.10';
let h: Harness;
let h2: Harness | undefined;
afterEach(async () => {
  await h?.cleanup();
  await h2?.cleanup();
  h2 = undefined;
});


describe('rollback skip file (defect 3)', () => {
  it('a requested rollback leaves a skip file naming the version rolled back from, and the run says what it wrote', async () => {
    h = await makeHarness();
    const { agent, events } = await runUpgrade(h);
    const rolled = await agent.rollback('r');
    expect(rolled.phase).toBe('RUN_ROLLED_BACK');
    const want = `${NEW},${startedAtSec(events)}`;
    expect(await skipNow(h)).toBe(want);
    expect(rolled.rollbackSkipFile).toBe(want);
    const restore = rolled.events.find((e) => e.step === 'ROLLBACK_RESTORE' && e.status === 'STEP_DONE');
    expect(restore?.skipFileWritten).toBe(want);
    expect(restore?.message).toContain(want);
    expect(sha256(await readFile(h.node.host(BIN)))).toBe(sha256(h.oldBinary));
  });

  it('an automatic rollback of a crash-looping new kubelet does the same', async () => {
    h = await makeHarness();
    const { record, events } = await runUpgrade(h, { binary: fakeBinary(NEW, { crash: true }) });
    expect(record.phase).toBe('RUN_ROLLED_BACK');
    expect(await skipNow(h)).toBe(`${NEW},${startedAtSec(events)}`);
  });

  // Found by the lab e2e of the coordinator's faults (a node at v1.14 whose containers date from
  // v1.13, its v1.15 kubelet failing to start): naming the version rolled back from replaced the
  // file that named v1.13, so the next Upgrade's hash self-check (and the Watch drift view), which
  // accept the hashes of the versions from the skip file's to the running one, refused every
  // container still carrying its v1.13 hash: the node could not be upgraded again.
  it('a skip file from an earlier step (naming an older version) is put back as it was: the old kubelet skips what started before it all the same, and the file still says how old the hashes are', async () => {
    const earlier = 'v1.9.11,1500000000';
    h = await makeHarness({ skipFile: earlier });
    const { record } = await runUpgrade(h, { binary: fakeBinary(NEW, { crash: true }) });
    expect(record.phase).toBe('RUN_ROLLED_BACK');
    expect(await skipNow(h)).toBe(earlier);
    expect(record.rollbackSkipFile).toBe('');
    expect(record.events.find((e) => e.step === 'ROLLBACK_RESTORE' && e.status === 'STEP_DONE')?.message).toMatch(/kept the skip file from before the run \(v1\.9\.11\)/);

    h2 = await makeHarness({ skipFile: earlier });
    const second = await runUpgrade(h2);
    const rolled = await second.agent.rollback('r');
    expect(rolled.phase).toBe('RUN_ROLLED_BACK');
    expect(await skipNow(h2)).toBe(earlier);
  });

  it('a skip file naming the running version (it makes the old kubelet skip nothing) is replaced by one naming the version rolled back from', async () => {
    h = await makeHarness({ skipFile: 'v1.10.13,1500000000' });
    const { record, events } = await runUpgrade(h, { binary: fakeBinary(NEW, { crash: true }) });
    expect(record.phase).toBe('RUN_ROLLED_BACK');
    expect(await skipNow(h)).toBe(`${NEW},${startedAtSec(events)}`);
  });

  it('an old binary without the patch gets the skip file as it was before the run, and the run says so', async () => {
    h = await makeHarness({ oldPatched: false });
    const { agent } = await runUpgrade(h);
    const rolled = await agent.rollback('r');
    expect(await skipNow(h)).toBeUndefined();
    expect(rolled.rollbackSkipFile).toBe('');
    expect(rolled.events.find((e) => e.step === 'ROLLBACK_RESTORE' && e.status === 'STEP_DONE')?.message).toMatch(/does not carry the skip-file patch/);
  });
});

