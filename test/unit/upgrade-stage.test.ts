import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../lib/errors.ts';
import { execaExec } from '../../lib/exec.ts';
import { silentLogger } from '../../lib/logger.ts';
import { kubeletBinaryPort } from '../../agent/upgrade/wiring.ts';
import { nodeFileSystem } from '../../agent/upgrade/fs.ts';
import { StageStore } from '../../agent/upgrade/stage.ts';
import { SKIP, sha256 } from './upgrade-fakes.ts';

/** A real executable: `--version` runs it (through lib/exec.ts), as the agent does in production. */
function script(version: string, patched = true): Buffer {
  return Buffer.from(`#!/bin/sh\necho "Kubernetes ${version}"\n${patched ? `# ${SKIP}\n` : ''}`);
}

async function* chunks(data: Buffer, size = 7): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

let dir: string;
let store: StageStore;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kip-stage-'));
  store = new StageStore({ fs: nodeFileSystem, kubelet: kubeletBinaryPort(execaExec, nodeFileSystem), stateDir: dir, skipFilePath: SKIP, logger: silentLogger() });
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
