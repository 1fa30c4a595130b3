import { mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../lib/errors.ts';
import { execaExec, isolatedExec } from '../../lib/exec.ts';
import { silentLogger } from '../../lib/logger.ts';
import { kubeletBinaryPort } from '../../agent/upgrade/wiring.ts';
import { nodeFileSystem } from '../../agent/upgrade/fs.ts';
import { StageStore } from '../../agent/upgrade/stage.ts';
import { SKIP, sha256 } from './upgrade-fakes.ts';

/** A real executable: `--version` runs it (through lib/exec.ts), as the agent does in production. */
function script(version: string, patched = true): Buffer {
  return Buffer.from(`#!/bin/sh\necho "Kubernetes ${version}"\n${patched ? `# ${SKIP}: cache.version.save from pkg/kubelet/cache_version\n` : ''}`);
}

async function* chunks(data: Buffer, size = 7): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

let dir: string;
let store: StageStore;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kip-stage-'));
  store = new StageStore({ fs: nodeFileSystem, kubelet: kubeletBinaryPort(execaExec), stateDir: dir, skipFilePath: SKIP, logger: silentLogger() });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function tree(): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String).sort();
}

describe('StageStore', () => {
  it('stages a binary whose sha256, size and --version match, and reports the patch', async () => {
    const bin = script('v1.11.10');
    const r = await store.stage({ version: 'v1.11.10', sha256: sha256(bin), size: bin.length }, chunks(bin));
    expect(r).toMatchObject({ alreadyStaged: false, binary: { version: 'v1.11.10', sha256: sha256(bin), size: bin.length, patched: true } });
    expect(await tree()).toEqual(['binaries', 'binaries/v1.11.10', 'binaries/v1.11.10/kubelet', 'binaries/v1.11.10/meta.json']);
    expect(await store.get('v1.11.10')).toMatchObject({ sha256: sha256(bin) });
    // the same binary again: idempotent, nothing written
    const again = await store.stage({ version: 'v1.11.10', sha256: sha256(bin), size: bin.length }, chunks(bin));
    expect(again.alreadyStaged).toBe(true);
    expect((await store.list()).map((b) => b.version)).toEqual(['v1.11.10']);
  });

  it('finds the patch markers in the upload pass, across chunk seams, without reading the file again', async () => {
    const port = kubeletBinaryPort(execaExec);
    const oneRead = new StageStore({
      fs: nodeFileSystem, stateDir: dir, skipFilePath: SKIP, logger: silentLogger(),
      kubelet: { ...port, isPatched: async () => { throw new Error('the staged file was read again for the patch markers'); } },
    });
    for (const [version, patched] of [['v1.11.10', true], ['v1.12.10', false]] as const) {
      const bin = script(version, patched);
      const r = await oneRead.stage({ version, sha256: sha256(bin), size: bin.length }, chunks(bin, 5));
      expect(r.binary.patched).toBe(patched);
    }
  });

  it('detects an unpatched binary', async () => {
    const bin = script('v1.11.10', false);
    const r = await store.stage({ version: 'v1.11.10', sha256: sha256(bin), size: bin.length }, chunks(bin));
    expect(r.binary.patched).toBe(false);
  });

  const bad: [string, (b: Buffer) => { meta: { version: string; sha256: string; size: number }; data: Buffer }, string][] = [
    ['a wrong sha256', (b) => ({ meta: { version: 'v1.11.10', sha256: sha256('other'), size: b.length }, data: b }), 'STAGE_SHA256_MISMATCH'],
    ['a truncated upload', (b) => ({ meta: { version: 'v1.11.10', sha256: sha256(b), size: b.length }, data: b.subarray(0, b.length - 5) }), 'STAGE_SIZE_MISMATCH'],
    ['an upload longer than declared', (b) => ({ meta: { version: 'v1.11.10', sha256: sha256(b), size: b.length - 5 }, data: b }), 'STAGE_SIZE_MISMATCH'],
    ['a binary printing another version', (b) => ({ meta: { version: 'v1.11.9', sha256: sha256(b), size: b.length }, data: b }), 'STAGE_VERSION_MISMATCH'],
    ['a placeholder version', (b) => ({ meta: { version: 'v0.0.0-master+$Format:%h$', sha256: sha256(b), size: b.length }, data: b }), 'VERSION_PLACEHOLDER'],
    ['a path in the version', (b) => ({ meta: { version: 'v1.11.10/../../x', sha256: sha256(b), size: b.length }, data: b }), 'VERSION_INVALID'],
    ['a malformed sha256', (b) => ({ meta: { version: 'v1.11.10', sha256: 'ABC', size: b.length }, data: b }), 'STAGE_BAD_METADATA'],
  ];
  it.each(bad)('refuses %s and leaves nothing behind', async (_name, make, code) => {
    const { meta, data } = make(script('v1.11.10'));
    await expect(store.stage(meta, chunks(data))).rejects.toSatisfy((err: unknown) => err instanceof InvalidInputError && err.code === code);
    // the (empty) binaries/ parent may exist; no version directory, no temp file
    expect((await tree()).filter((f) => f !== 'binaries')).toEqual([]);
  });

  it('a failed re-stage keeps the good binary staged before', async () => {
    const bin = script('v1.11.10');
    await store.stage({ version: 'v1.11.10', sha256: sha256(bin), size: bin.length }, chunks(bin));
    const other = script('v1.11.10').subarray(0, 10);
    await expect(store.stage({ version: 'v1.11.10', sha256: sha256(other), size: 99 }, chunks(other))).rejects.toMatchObject({ code: 'STAGE_SIZE_MISMATCH' });
    expect(await store.get('v1.11.10')).toMatchObject({ sha256: sha256(bin) });
    expect(await tree()).toEqual(['binaries', 'binaries/v1.11.10', 'binaries/v1.11.10/kubelet', 'binaries/v1.11.10/meta.json']);
  });

  it('refuses to replace a version an active run uses', async () => {
    const bin = script('v1.11.10');
    await store.stage({ version: 'v1.11.10', sha256: sha256(bin), size: bin.length }, chunks(bin));
    store.markInUse('v1.11.10', true);
    const other = Buffer.concat([bin, Buffer.from('# different\n')]);
    await expect(store.stage({ version: 'v1.11.10', sha256: sha256(other), size: other.length }, chunks(other))).rejects.toMatchObject({ code: 'STAGE_IN_USE' });
  });
});

describe('StageStore under concurrent and hostile uploads (issue 8, defects 11, 12, 14, 15)', () => {
  const meta = (b: Buffer, version = 'v1.11.10') => ({ version, sha256: sha256(b), size: b.length });
  /** A stream that yields its first chunk, then waits for `gate` before the rest. */
  async function* gated(data: Buffer, gate: Promise<void>): AsyncGenerator<Buffer> {
    yield data.subarray(0, 5);
    await gate;
    yield data.subarray(5);
  }

  /** Starts `first` (held after its first chunk), runs `second` to its end, then lets `first` finish. */
  async function overlap(first: (gate: Promise<void>) => Promise<unknown>, second: () => Promise<unknown>): Promise<[PromiseSettledResult<unknown>, PromiseSettledResult<unknown>]> {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const a = first(gate);
    a.catch(() => {});
    const [b] = await Promise.allSettled([second()]);
    open();
    const [aa] = await Promise.allSettled([a]);
    return [aa!, b!];
  }

  it('a failing upload never deletes a concurrent successful one (20 rounds, both orders)', async () => {
    for (let round = 0; round < 20; round++) {
      const v = `v1.11.${round}`;
      const good = script(v);
      const bad = Buffer.concat([script(v), Buffer.from('# bad\n')]);
      const badMeta = { ...meta(bad, v), sha256: sha256('not it') };
      const goodFirst = round % 2 === 0;
      const [first, second] = goodFirst
        ? await overlap((g) => store.stage(meta(good, v), gated(good, g)), () => store.stage(badMeta, chunks(bad)))
        : await overlap((g) => store.stage(badMeta, gated(bad, g)), () => store.stage(meta(good, v), chunks(good)));
      const [goodResult, badResult] = goodFirst ? [first, second] : [second, first];
      expect(badResult.status).toBe('rejected');
      if (goodResult.status === 'fulfilled') expect(await store.get(v), `round ${round}`).toMatchObject({ sha256: sha256(good) });
      else expect(goodResult.reason, `round ${round}`).toMatchObject({ code: 'STAGE_BUSY' });
      if (goodFirst) expect(goodResult.status).toBe('fulfilled');
    }
    expect((await tree()).filter((f) => f.includes('.kip-tmp-'))).toEqual([]);
  });

  it('two different valid uploads of one version at once: the store holds one whole binary whose metadata matches it (20 rounds)', async () => {
    for (let round = 0; round < 20; round++) {
      const v = `v1.12.${round}`;
      const a = script(v);
      const b = Buffer.concat([script(v), Buffer.from(`# other build ${round}\n`)]);
      const results = await overlap((g) => store.stage(meta(a, v), gated(a, g)), () => store.stage(meta(b, v), chunks(b)));
      expect(results.some((r) => r.status === 'fulfilled')).toBe(true);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'STAGE_BUSY' });
      const got = await store.get(v);
      expect(got).toBeDefined();
      expect(sha256(await readFile(got!.path))).toBe(got!.sha256);
    }
  });

  it('the already-staged shortcut checks the stream: another stream under the same sha256 is refused', async () => {
    const bin = script('v1.11.10');
    await store.stage(meta(bin), chunks(bin));
    const liar = Buffer.alloc(bin.length, 'x');
    await expect(store.stage(meta(bin), chunks(liar))).rejects.toMatchObject({ code: 'STAGE_SHA256_MISMATCH', name: 'InvalidInputError' });
    await expect(store.stage(meta(bin), chunks(bin.subarray(0, 3)))).rejects.toMatchObject({ code: 'STAGE_SIZE_MISMATCH' });
    expect(await store.get('v1.11.10')).toMatchObject({ sha256: sha256(bin) });
  });

  it('metadata that does not describe the file on disk reads as not staged', async () => {
    const bin = script('v1.11.10');
    const r = await store.stage(meta(bin), chunks(bin));
    // Another file of the same size in its place (what two racing renames used to leave).
    const other = Buffer.from(bin.toString().replace('Kubernetes', 'Kubernetez'));
    await writeFile(`${r.binary.path}.new`, other, { mode: 0o755 });
    await rename(`${r.binary.path}.new`, r.binary.path);
    expect(await store.get('v1.11.10')).toBeUndefined();
    expect(await store.list()).toEqual([]);
  });

  it('a binary that exits non-zero on --version is the caller\'s mistake (INVALID_ARGUMENT), and nothing stays', async () => {
    const bin = Buffer.from('#!/bin/sh\necho "not a kubelet: caf\u00e9" >&2\nexit 3\n');
    await expect(store.stage(meta(bin), chunks(bin))).rejects.toMatchObject({ code: 'STAGE_VERSION_UNREADABLE', name: 'InvalidInputError' });
    expect((await tree()).filter((f) => f !== 'binaries')).toEqual([]);
  });

  it('a 10 kB version is refused as invalid input before it reaches the file system', async () => {
    const v = `v1.11.10-${'a'.repeat(10_000)}`;
    const bin = script(v);
    await expect(store.stage(meta(bin, v), chunks(bin))).rejects.toMatchObject({ code: 'VERSION_INVALID', name: 'InvalidInputError' });
    await expect(store.get(v)).rejects.toMatchObject({ code: 'VERSION_INVALID' });
  });

  it('--version of an upload is bounded by its timeout even when the script leaves `sleep` behind', async () => {
    const isolated = new StageStore({ fs: nodeFileSystem, kubelet: kubeletBinaryPort(isolatedExec, 500), stateDir: dir, skipFilePath: SKIP, logger: silentLogger() });
    const bin = Buffer.from('#!/bin/sh\nsleep 300\necho "Kubernetes v1.11.10"\n');
    const started = Date.now();
    await expect(isolated.stage(meta(bin), chunks(bin))).rejects.toMatchObject({ code: 'STAGE_VERSION_UNREADABLE' });
    expect(Date.now() - started).toBeLessThan(5_000);
    const bg = Buffer.from('#!/bin/sh\nsleep 300 &\necho "Kubernetes v1.11.10"\n');
    const r = await isolated.stage(meta(bg), chunks(bg));
    expect(r.binary.version).toBe('v1.11.10');
    expect(Date.now() - started).toBeLessThan(8_000);
  });

  it('enforces the staging quota, counting uploads in flight, and RemoveStaged frees it', async () => {
    const a = script('v1.11.10');
    const b = script('v1.12.10');
    const quoted = new StageStore({ fs: nodeFileSystem, kubelet: kubeletBinaryPort(execaExec), stateDir: dir, skipFilePath: SKIP, logger: silentLogger(), quotaBytes: a.length + b.length - 1 });
    await quoted.stage(meta(a), chunks(a));
    await expect(quoted.stage(meta(b, 'v1.12.10'), chunks(b))).rejects.toMatchObject({ code: 'STAGE_QUOTA_EXCEEDED', name: 'ResourceExhaustedError' });
    // Replacing a version counts only the new size.
    const a2 = Buffer.concat([a.subarray(0, a.length - 1), Buffer.from('\n')]);
    expect((await quoted.stage(meta(Buffer.from(a2.toString().replace('10"', '10" ')), 'v1.11.10'), chunks(Buffer.from(a2.toString().replace('10"', '10" '))))).alreadyStaged).toBe(false);
    expect(await quoted.remove('v1.11.10')).toMatchObject({ removed: true });
    expect(await quoted.remove('v1.11.10')).toEqual({ removed: false, freedBytes: 0 });
    expect((await quoted.stage(meta(b, 'v1.12.10'), chunks(b))).binary.version).toBe('v1.12.10');
    expect(await tree()).toEqual(['binaries', 'binaries/v1.12.10', 'binaries/v1.12.10/kubelet', 'binaries/v1.12.10/meta.json']);
  });

  it('refuses to remove a version a run uses, and removes stale temp files at start-up', async () => {
    const bin = script('v1.11.10');
    await store.stage(meta(bin), chunks(bin));
    store.markInUse('v1.11.10', true);
    await expect(store.remove('v1.11.10')).rejects.toMatchObject({ code: 'STAGE_IN_USE' });
    store.markInUse('v1.11.10', false);
    await writeFile(path.join(dir, 'binaries', '.kip-tmp-upload.dead'), 'partial');
    await writeFile(path.join(dir, 'binaries', 'v1.11.10', '.kip-tmp-upload.old'), 'partial');
    expect(await store.removeStaleTemps()).toBe(2);
    expect(await tree()).toEqual(['binaries', 'binaries/v1.11.10', 'binaries/v1.11.10/kubelet', 'binaries/v1.11.10/meta.json']);
  });
});
