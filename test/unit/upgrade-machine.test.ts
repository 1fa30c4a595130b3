import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FORWARD_STEPS, ROLLBACK_STEPS, type RunRecord } from '../../agent/upgrade/types.ts';
import { nodeFileSystem, type FileSystem } from '../../agent/upgrade/fs.ts';
import { BIN, ENV_FILE, SKIP, crashAt, fakeBinary, makeHarness, sha256, type Harness, collect } from './upgrade-fakes.ts';

const NEW = 'v1.11.10';
const OLD = 'v1.10.13';
let h: Harness;
afterEach(async () => {
  await h?.cleanup();
});

async function nodeState(h: Harness) {
  const bin = await readFile(h.node.host(BIN));
  const skip = await readFile(h.node.host(SKIP), 'utf8').catch(() => undefined);
  const env = await readFile(h.node.host(ENV_FILE), 'utf8');
  const temps = (await readdir(path.dirname(h.node.host(BIN)))).filter((n) => n.includes('kip-tmp'));
  return { binSha: sha256(bin), skip, env, temps, active: h.node.active };
}

async function upgradeOnce(h: Harness, opts: { version?: string; binary?: Buffer; runId?: string } = {}) {
  const { agent, stage } = h.makeAgent();
  await agent.start();
  const version = opts.version ?? NEW;
  const data = opts.binary ?? fakeBinary(version);
  await h.stageBuffer(stage, version, data);
  const oldStart = Math.floor(h.node.startUsec / 1e6);
  await agent.begin({ runId: opts.runId ?? 'run-1', targetVersion: version });
  const events = await collect(agent.events(opts.runId ?? 'run-1'));
  return { agent, stage, data, events, oldStart, record: await agent.getRun(opts.runId ?? 'run-1') };
}

describe('upgrade state machine: the happy path', () => {
  it('walks every step in order, journals before acting, and leaves the new kubelet running', async () => {
    h = await makeHarness();
    const { events, data, oldStart, record } = await upgradeOnce(h);
    expect(record.phase).toBe('RUN_SUCCEEDED');
    const started = events.filter((e) => e.status === 'STEP_STARTED').map((e) => e.step);
    expect(started).toEqual([...FORWARD_STEPS]);
    expect(events.at(-1)).toMatchObject({ step: 'DONE', phase: 'RUN_SUCCEEDED' });
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const s = await nodeState(h);
    expect(s.binSha).toBe(sha256(data));
    expect(s.skip).toBe(`${OLD},${oldStart}`);
    expect(s.active).toBe(true);
    expect(s.temps).toEqual([]);
    // stop came before the (only) start of the new kubelet
    expect(h.node.events).toEqual(['stop', 'start']);
    // no unit file changed, so no daemon-reload (it would cost kubelet downtime)
    expect(h.node.reloads).toBe(0);
  });

  it('states first healthy time, verified pid and downtime as typed fields of the VERIFY done event', async () => {
    h = await makeHarness();
    const { events } = await upgradeOnce(h);
    const verify = events.find((e) => e.step === 'VERIFY' && e.status === 'STEP_DONE');
    const stop = events.find((e) => e.step === 'STOP_KUBELET' && e.status === 'STEP_STARTED');
    expect(verify?.mainPid).toBe(h.node.pid);
    expect(verify?.firstHealthyAtUnixMs).toBeGreaterThanOrEqual(stop?.atUnixMs ?? Infinity);
    expect(verify?.firstHealthyAtUnixMs).toBeLessThanOrEqual(verify?.atUnixMs ?? 0);
    expect(verify?.downtimeMs).toBe((verify?.firstHealthyAtUnixMs ?? 0) - (stop?.atUnixMs ?? 0));
    // only the verify step states them
    expect(events.filter((e) => e.firstHealthyAtUnixMs !== undefined).map((e) => e.step)).toEqual(['VERIFY']);
  });

  it('reloads systemd before starting when a unit file or drop-in changed', async () => {
    h = await makeHarness();
    h.node.needDaemonReload = true;
    const { record, events } = await upgradeOnce(h);
    expect(record.phase).toBe('RUN_SUCCEEDED');
    expect(h.node.reloads).toBe(1);
    expect(events.find((e) => e.step === 'START_KUBELET' && e.status === 'STEP_DONE')?.message).toContain('after daemon-reload');
  });

  it.each([' v1.9.11 , 1500000000 ', ',1500000000', 'v1.9.11,1500000000\n'])('keeps a skip file the patch accepts (%j) and says what it names', async (raw) => {
    h = await makeHarness({ skipFile: raw });
    const { agent } = h.makeAgent();
    await agent.start();
    const check = (await agent.preflight(NEW)).checks.find((c) => c.name === 'skip-file');
    expect(check).toMatchObject({ status: 'CHECK_OK' });
    expect(check?.message).toMatch(raw.startsWith(',') ? /no version \(the patch takes that as history too\)/ : /names v1\.9\.11/);
    await upgradeOnce(h);
    expect((await nodeState(h)).skip).toBe(raw);
  });

  it('keeps a valid skip file from an earlier step', async () => {
    h = await makeHarness({ skipFile: 'v1.9.11,1500000000' });
    await upgradeOnce(h);
    expect((await nodeState(h)).skip).toBe('v1.9.11,1500000000');
  });

  it('replaces a skip file that names the target version with the old one', async () => {
    h = await makeHarness({ skipFile: `${NEW},1500000000` });
    const { oldStart } = await upgradeOnce(h);
    expect((await nodeState(h)).skip).toBe(`${OLD},${oldStart}`);
  });

  it('re-attaching with the same run id replays the events and executes nothing again', async () => {
    h = await makeHarness();
    const { agent, events } = await upgradeOnce(h);
    const starts = h.node.starts;
    const again = await agent.begin({ runId: 'run-1', targetVersion: NEW });
    expect(again.phase).toBe('RUN_SUCCEEDED');
    expect(await collect(agent.events('run-1'))).toEqual(events);
    expect(h.node.starts).toBe(starts);
    await expect(agent.begin({ runId: 'run-1', targetVersion: 'v1.11.9' })).rejects.toMatchObject({ code: 'RUN_ID_CONFLICT' });
  });

  it('a second run while one runs gets RUN_IN_PROGRESS naming the running run', async () => {
    h = await makeHarness();
    const { hook, reached } = crashAt('STOP_KUBELET', 'after'); // holds the run mid-way
    const { agent, stage } = h.makeAgent({ fault: hook });
    await agent.start();
    await h.stageBuffer(stage, NEW, fakeBinary(NEW));
    await agent.begin({ runId: 'run-a', targetVersion: NEW });
    await reached;
    const err = await agent.begin({ runId: 'run-b', targetVersion: NEW }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'RUN_IN_PROGRESS', name: 'PreconditionError' });
    expect((err as Error).message).toContain('run-a');
    // another agent process on the same state dir (after a restart) sees it from the journal too
    const other = h.makeAgent({ fault: { at: () => new Promise<void>(() => {}) } }).agent;
    await expect(other.preflight(NEW)).resolves.toMatchObject({ ok: false });
  });

  it('migrates flags in the env file and restores them on Rollback', async () => {
    h = await makeHarness({ fromVersion: 'v1.11.10' });
    const { agent, record } = await upgradeOnce(h, { version: 'v1.12.10' });
    expect(record.phase).toBe('RUN_SUCCEEDED');
    expect((await nodeState(h)).env).toBe('KUBELET_ARGS=--v=2\n');
    const rolled = await agent.rollback('run-1');
    expect(rolled.phase).toBe('RUN_ROLLED_BACK');
    const s = await nodeState(h);
    expect(s.env).toBe('KUBELET_ARGS=--v=2 --cadvisor-port=4194\n');
    expect(s.binSha).toBe(sha256(h.oldBinary));
    // the old kubelet skips every container the v1.12.10 kubelet started (issue 8, defect 3)
    expect(s.skip).toMatch(/^v1\.12\.10,\d+$/);
    expect(s.active).toBe(true);
    // idempotent
    const starts = h.node.starts;
    expect((await agent.rollback('run-1')).phase).toBe('RUN_ROLLED_BACK');
    expect(h.node.starts).toBe(starts);
  });
});

describe('upgrade state machine: disk full', () => {
  it('a failed swap (ENOSPC) rolls back to the old kubelet; the binary path stays whole', async () => {
    h = await makeHarness();
    const full: FileSystem = {
      ...nodeFileSystem,
      copyAtomicVerified(from, to, mode, sum) {
        if (to.endsWith(BIN)) return Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
        return nodeFileSystem.copyAtomicVerified.call(this, from, to, mode, sum);
      },
    };
    const { agent, stage } = h.makeAgent({ fs: full });
    await agent.start();
    await h.stageBuffer(stage, NEW, fakeBinary(NEW));
    await agent.begin({ runId: 'full', targetVersion: NEW });
    await agent.whenIdle();
    const rec = await agent.getRun('full');
    expect(rec.phase).toBe('RUN_ROLLED_BACK');
    expect(rec.errorMessage).toMatch(/ENOSPC/);
    expect(rec.events.find((e) => e.status === 'STEP_FAILED')?.step).toBe('SWAP_BINARY');
    expect(await nodeState(h)).toMatchObject({ binSha: sha256(h.oldBinary), skip: undefined, env: 'KUBELET_ARGS=--v=2 --cadvisor-port=4194\n', active: true, temps: [] });
  });

  it('when the journal cannot be written any more, the agent still makes sure a kubelet runs', async () => {
    h = await makeHarness();
    let journalWrites = 0;
    const full: FileSystem = {
      ...nodeFileSystem,
      writeAtomic(file, data, mode) {
        if (file.includes('/runs/') && ++journalWrites > 10) return Promise.reject(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }));
        return nodeFileSystem.writeAtomic.call(this, file, data, mode);
      },
    };
    const { agent, stage } = h.makeAgent({ fs: full });
    await agent.start();
    await h.stageBuffer(stage, NEW, fakeBinary(NEW));
    await agent.begin({ runId: 'nojournal', targetVersion: NEW });
    await agent.whenIdle();
    // 10 journal writes get the run past STOP_KUBELET; the kubelet must not stay stopped.
    expect(h.node.stops).toBeGreaterThan(0);
    expect(h.node.active).toBe(true);
    expect((await agent.getRun('nojournal')).phase).toBe('RUN_FAILED');
    expect((await nodeState(h)).temps).toEqual([]);
  });
});

describe('upgrade state machine: damaged backup', () => {
  it('never restores a backup copy that fails its checksum; the run needs an operator and a kubelet still runs', async () => {
    h = await makeHarness();
    const { agent, data } = await upgradeOnce(h);
    const manifest = JSON.parse(await readFile(path.join(h.stateDir, 'backups/run-1/manifest.json'), 'utf8')) as { entries: { path: string; copy?: string }[] };
    const copy = manifest.entries.find((e) => e.path === BIN)?.copy ?? 'x';
    await writeFile(path.join(h.stateDir, 'backups/run-1/files', copy), 'garbage');
    const rec = await agent.rollback('run-1');
    expect(rec.phase).toBe('RUN_FAILED');
    expect(rec.errorCode).toBe('BACKUP_CORRUPT');
    const s = await nodeState(h);
    expect(s.binSha).toBe(sha256(data));
    expect(s.active).toBe(true);
    expect(s.temps).toEqual([]);
  });
});

describe('upgrade state machine: automatic rollback', () => {
  it('rolls back a crash-looping new kubelet, reporting why with the journal tail', async () => {
    h = await makeHarness();
    const { record, events } = await upgradeOnce(h, { binary: fakeBinary(NEW, { crash: true }) });
    expect(record.phase).toBe('RUN_ROLLED_BACK');
    expect(record.errorCode).toBe('VERIFY_FAILED');
    expect(record.errorMessage).toMatch(/did not become stable and healthy within 1000 ms/);
    const failed = events.find((e) => e.status === 'STEP_FAILED');
    expect(failed).toMatchObject({ step: 'VERIFY', errorCode: 'VERIFY_FAILED' });
    expect(failed?.journalTail).toContain('F1127 failed to run Kubelet: unknown flag');
    expect(events.filter((e) => e.status === 'STEP_DONE').map((e) => e.step).slice(-5)).toEqual([...ROLLBACK_STEPS, 'ROLLED_BACK']);
    const s = await nodeState(h);
    expect(s.binSha).toBe(sha256(h.oldBinary));
    expect(s.skip).toMatch(/^v1\.11\.10,\d+$/);
    expect(s.env).toBe('KUBELET_ARGS=--v=2 --cadvisor-port=4194\n');
    expect(s.active).toBe(true);
    // the rollback reloads systemd even though no unit file changed (clears the start rate limit)
    expect(h.node.reloads).toBe(1);
    expect(h.node.crashLooping).toBe(false);
  });
});

describe('upgrade state machine: bad input changes nothing', () => {
  async function refused(h: Harness, version: string, binary: Buffer, code: string, opts: { allowUnpatched?: boolean } = {}) {
    const { agent, stage } = h.makeAgent();
    await agent.start();
    await h.stageBuffer(stage, version, binary);
    const before = await nodeState(h);
    const starts = h.node.starts + h.node.stops;
    await expect(agent.begin({ runId: 'bad', targetVersion: version, ...opts })).rejects.toMatchObject({ code });
    expect(await nodeState(h)).toEqual(before);
    expect(h.node.starts + h.node.stops).toBe(starts);
    await expect(agent.getRun('bad')).rejects.toMatchObject({ code: 'RUN_NOT_FOUND' });
    const report = await agent.preflight(version, opts);
    expect(report.ok).toBe(false);
    expect(report.checks.some((c) => c.status === 'CHECK_FAIL' && c.message.startsWith(code))).toBe(true);
  }

  it('skew of more than one minor', async () => {
    h = await makeHarness();
    await refused(h, 'v1.12.10', fakeBinary('v1.12.10'), 'SKEW_TOO_LARGE');
  });
  it('downgrade without rollback', async () => {
    h = await makeHarness();
    await refused(h, 'v1.9.11', fakeBinary('v1.9.11'), 'DOWNGRADE_REFUSED');
  });
  // A trailing newline was refused here before; the patch accepts it (the time field is only
  // logged), so the malformed example is now one the patch ignores: two commas.
  it('a malformed existing skip file (two commas: the patch ignores it) is refused and left alone', async () => {
    h = await makeHarness({ skipFile: 'v1.10.13,1574812800,1' });
    await refused(h, NEW, fakeBinary(NEW), 'SKIP_FILE_MALFORMED');
  });
  it('PrivateTmp=yes on the kubelet unit', async () => {
    h = await makeHarness();
    h.node.privateTmp = true;
    await refused(h, NEW, fakeBinary(NEW), 'PRIVATE_TMP');
  });
  it('an unpatched staged binary unless allowed', async () => {
    h = await makeHarness();
    await refused(h, NEW, fakeBinary(NEW, { patched: false }), 'UNPATCHED_BINARY');
    const { agent } = h.makeAgent();
    const report = await agent.preflight(NEW, { allowUnpatched: true });
    expect(report.checks.find((c) => c.name === 'patched-binary')).toMatchObject({ status: 'CHECK_WARN' });
    expect(report.checks.find((c) => c.name === 'patched-binary')?.message).toMatch(/every container whose hash changes will restart/);
  });
  it('a placeholder version on the running kubelet', async () => {
    h = await makeHarness({ fromVersion: 'v0.0.0-master+$Format:%h$' });
    await refused(h, NEW, fakeBinary(NEW), 'VERSION_PLACEHOLDER');
  });
  it('a removed flag without replacement unless the operator allows dropping it', async () => {
    h = await makeHarness({ env: 'KUBELET_ARGS=--v=2 --bogus-removed\n' });
    await refused(h, NEW, fakeBinary(NEW), 'FLAG_MIGRATION_REFUSED');
    const { agent } = h.makeAgent();
    await agent.begin({ runId: 'ok', targetVersion: NEW, allowDroppedFlags: ['--bogus-removed'] });
    await agent.whenIdle();
    expect((await agent.getRun('ok')).phase).toBe('RUN_SUCCEEDED');
    expect((await nodeState(h)).env).toBe('KUBELET_ARGS=--v=2\n');
  });
  it('an invalid run id', async () => {
    h = await makeHarness();
    const { agent } = h.makeAgent();
    await expect(agent.begin({ runId: '../etc', targetVersion: NEW })).rejects.toMatchObject({ code: 'RUN_ID_INVALID' });
  });
  it('a target that is not staged', async () => {
    h = await makeHarness();
    const { agent } = h.makeAgent();
    await agent.start();
    await expect(agent.begin({ runId: 'r', targetVersion: NEW })).rejects.toMatchObject({ code: 'NOT_STAGED' });
  });
  it('rollback of a run whose binary was changed since, or of an unknown run', async () => {
    h = await makeHarness();
    const { agent } = await upgradeOnce(h);
    await writeFile(h.node.host(BIN), fakeBinary('v1.11.11'));
    await expect(agent.rollback('run-1')).rejects.toMatchObject({ code: 'ROLLBACK_NODE_CHANGED' });
    await expect(agent.rollback('nope')).rejects.toMatchObject({ code: 'RUN_NOT_FOUND' });
  });
});

describe('upgrade state machine: crash at every step, then restart', () => {
  const points = FORWARD_STEPS.flatMap((s) => (['before', 'after'] as const).map((p) => [s, p] as const));

  async function crashThenRecover(step: string, point: 'before' | 'after', recovery: 'resume' | 'rollback', binary?: Buffer): Promise<{ rec: RunRecord; oldStart: number; data: Buffer }> {
    const { hook, reached } = crashAt(step, point);
    const first = h.makeAgent({ fault: hook });
    await first.agent.start();
    const data = binary ?? fakeBinary(NEW);
    await h.stageBuffer(first.stage, NEW, data);
    const oldStart = Math.floor(h.node.startUsec / 1e6);
    await first.agent.begin({ runId: 'crashy', targetVersion: NEW });
    await reached; // the agent is "dead" from here on
    // a partial copy beside the binary, as a kill -9 during the copy would leave
    await writeFile(path.join(path.dirname(h.node.host(BIN)), '.kip-tmp-kubelet.dead'), 'partial');
    const second = h.makeAgent({ recovery });
    await second.agent.start();
    await second.agent.whenIdle();
    return { rec: await second.agent.getRun('crashy'), oldStart, data };
  }

  it.each(points)('resume after a crash %s/%s ends with the new kubelet and a consistent node', async (step, point) => {
    h = await makeHarness();
    const { rec, oldStart, data } = await crashThenRecover(step, point, 'resume');
    expect(rec.phase).toBe('RUN_SUCCEEDED');
    const s = await nodeState(h);
    expect(s).toMatchObject({ binSha: sha256(data), skip: `${OLD},${oldStart}`, active: true, temps: [] });
    // each finished step ran exactly once to completion; the interrupted one was repeated
    const done = rec.events.filter((e) => e.status === 'STEP_DONE').map((e) => e.step);
    expect(done).toEqual([...FORWARD_STEPS, 'DONE']);
    // backup manifest still matches the original files
    const manifest = JSON.parse(await readFile(path.join(h.stateDir, 'backups/crashy/manifest.json'), 'utf8')) as { entries: { path: string; sha256?: string; copy?: string }[] };
    const binEntry = manifest.entries.find((e) => e.path === BIN);
    expect(binEntry?.sha256).toBe(sha256(h.oldBinary));
    expect(sha256(await readFile(path.join(h.stateDir, 'backups/crashy/files', binEntry?.copy ?? 'x')))).toBe(sha256(h.oldBinary));
  });

  it.each(points)('rollback recovery after a crash %s/%s restores the old kubelet', async (step, point) => {
    h = await makeHarness();
    const { rec } = await crashThenRecover(step, point, 'rollback');
    expect(rec.phase).toBe('RUN_ROLLED_BACK');
    const s = await nodeState(h);
    expect(s).toMatchObject({ binSha: sha256(h.oldBinary), env: 'KUBELET_ARGS=--v=2 --cadvisor-port=4194\n', active: true, temps: [] });
    // Once the new kubelet was (being) started the old one gets a skip file naming it (defect 3).
    const newStarted = FORWARD_STEPS.indexOf(step) >= FORWARD_STEPS.indexOf('START_KUBELET');
    if (newStarted) expect(s.skip).toMatch(/^v1\.11\.10,\d+$/);
    else expect(s.skip).toBeUndefined();
  });

  it.each(ROLLBACK_STEPS.flatMap((s) => (['before', 'after'] as const).map((p) => [s, p] as const)))(
    'a crash during the automatic rollback (%s/%s) still ends rolled back',
    async (step, point) => {
      h = await makeHarness();
      const { rec } = await crashThenRecover(step, point, 'resume', fakeBinary(NEW, { crash: true }));
      expect(rec.phase).toBe('RUN_ROLLED_BACK');
      expect(rec.errorCode).toBe('VERIFY_FAILED');
      const s = await nodeState(h);
      expect(s).toMatchObject({ binSha: sha256(h.oldBinary), active: true, temps: [] });
      expect(s.skip).toMatch(/^v1\.11\.10,\d+$/);
    },
  );
});
