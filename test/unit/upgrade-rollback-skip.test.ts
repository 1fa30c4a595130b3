// Issue 8 defect 3: on rollback the skip file names the version rolled back from, so the old
// kubelet skips every container the new one started or re-labelled.
import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, collect, fakeBinary, makeHarness, runUpgrade, sha256, skipNow, startedAtSec, type Harness } from './upgrade-fakes.ts';

const NEW = 'v1.11.10';
let h: Harness;
afterEach(async () => {
  await h?.cleanup();
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

  it('an old binary without the patch gets the skip file as it was before the run, and the run says so', async () => {
    h = await makeHarness({ oldPatched: false });
    const { agent } = await runUpgrade(h);
    const rolled = await agent.rollback('r');
    expect(await skipNow(h)).toBeUndefined();
    expect(rolled.rollbackSkipFile).toBe('');
    expect(rolled.events.find((e) => e.step === 'ROLLBACK_RESTORE' && e.status === 'STEP_DONE')?.message).toMatch(/does not carry the skip-file patch/);
  });
});

