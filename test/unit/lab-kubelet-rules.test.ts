import { describe, expect, it } from 'vitest';
import { decideContainer, nextInitStep, type RuntimeContainer } from '../../scripts/lab/kubelet/rules.ts';
import {
  DEFAULT_CACHEVERSION, DEFAULT_STARTTIME, checkValidity, parseSkipFileContent, readCacheVersionAtStart, skipsHashCheck, unixSeconds, type CacheVersion, type SkipFileFs,
} from '../../scripts/lab/kubelet/skip-file.ts';
import { parseKubeletArgs } from '../../scripts/lab/kubelet/flags.ts';

const S = 1_000_000_000n;

function memFs(files: Map<string, string>, fail: { stat?: boolean; read?: boolean; write?: boolean } = {}): SkipFileFs {
  return {
    exists: async (p) => {
      if (fail.stat) throw Object.assign(new Error('EACCES'), { code: 'EACCES' });
      return files.has(p);
    },
    readFile: async (p) => {
      if (fail.read) throw new Error('EIO');
      return files.get(p)!;
    },
    writeFile: async (p, c) => {
      if (fail.write) throw new Error('EROFS');
      files.set(p, c);
    },
  };
}

const P = '/tmp/cache.version.save';
const at = (content: string, own = 'v1.14.10', now = 2000) => readCacheVersionAtStart(memFs(new Map([[P, content]])), P, own, now);

describe('the patched kubelet skip file, as cache_version.go reads it', () => {
  it('removes only spaces and needs exactly two comma-separated fields', () => {
    expect(parseSkipFileContent(' v1.10.13 , 1574812800 ')).toEqual({ version: 'v1.10.13', time: 1574812800 });
    // a newline is not a space: the time field no longer parses (only logged), the version stands
    expect(parseSkipFileContent('v1.10.13,1574812800\n')).toEqual({ version: 'v1.10.13', time: undefined });
    expect(parseSkipFileContent('v1.10.13')).toBeUndefined();
    expect(parseSkipFileContent('v1.10.13,1,2')).toBeUndefined();
  });

  it('keeps an empty version field as the history version: skipping is ON', async () => {
    const v = await at(',1574812800');
    expect(v).toMatchObject({ currentVersion: 'v1.14.10', historyVersion: '', currentStartUnix: 2000, source: 'read' });
    expect(checkValidity(v)).toBe(true);
    expect(skipsHashCheck(v, 1999n * S)).toBe(true);
  });

  it('a malformed file leaves current_version at v0.0.0: CheckValidity false, nothing skipped', async () => {
    const v = await at('v1.13.12');
    expect(v).toMatchObject({ currentVersion: DEFAULT_CACHEVERSION, source: 'malformed' });
    expect(checkValidity(v)).toBe(false);
    expect(skipsHashCheck(v, 1n)).toBe(false);
  });

  it('an unparsable time is only logged: the history time stays 946656000 and skipping works', async () => {
    const v = await at('v1.13.12,yesterday');
    expect(v).toMatchObject({ historyVersion: 'v1.13.12', historyStartUnix: DEFAULT_STARTTIME });
    expect(skipsHashCheck(v, 1000n * S)).toBe(true);
  });

  it('a missing file is written with its own version and time, and then skips nothing', async () => {
    const files = new Map<string, string>();
    const v = await readCacheVersionAtStart(memFs(files), P, 'v1.14.10', 1700000000);
    expect(files.get(P)).toBe('v1.14.10,1700000000');
    expect(v).toMatchObject({ currentVersion: 'v1.14.10', historyVersion: 'v1.14.10', source: 'persisted' });
    expect(skipsHashCheck(v, 1n)).toBe(false);
  });

  it('a stat, read or write error triggers the exception: skipping off', async () => {
    for (const fail of [{ stat: true }, { read: true }] as const) {
      const v = await readCacheVersionAtStart(memFs(new Map([[P, 'v1.13.12,1']]), fail), P, 'v1.14.10', 2000);
      expect(v.exceptionTriggered).toBe(true);
      expect(skipsHashCheck(v, 1n)).toBe(false);
    }
    const w = await readCacheVersionAtStart(memFs(new Map(), { write: true }), P, 'v1.14.10', 2000);
    expect(w).toMatchObject({ exceptionTriggered: true, source: 'write-error' });
  });

  it('compares the START time in whole Unix seconds with strict <', async () => {
    const v = await at('v1.13.12,1', 'v1.14.10', 2000);
    expect(skipsHashCheck(v, 1999n * S + 999_999_999n)).toBe(true);
    // started in the same second the kubelet started: 2000 < 2000 is false, the hash is compared
    expect(skipsHashCheck(v, 2000n * S)).toBe(false);
    expect(skipsHashCheck(v, 2000n * S + 1n)).toBe(false);
    expect(unixSeconds(-1n)).toBe(-1);
  });

  it('skips nothing when the history version equals its own (a restart without upgrade)', async () => {
    expect(skipsHashCheck(await at('v1.14.10,1'), 1n)).toBe(false);
  });
});

describe('kubelet sync rule (computePodActions)', () => {
  const cache = (): CacheVersion => ({ currentVersion: 'v1.14.10', currentStartUnix: 10, historyVersion: 'v1.13.12', historyStartUnix: 1, exceptionTriggered: false, source: 'read' });
  const running = (hash: string, startedSec = 5n, state: RuntimeContainer['state'] = 'running'): RuntimeContainer => ({ id: 'c1', attempt: 2, state, hashLabel: hash, restartCount: 2, startedAtNs: startedSec * S });

  it('creates a missing container with the expected hash', () => {
    expect(decideContainer('new1', undefined, undefined)).toEqual({ kind: 'create', attempt: 0, restartCount: 0, hash: 'new1', reason: 'new' });
  });
  it('keeps a running container whose label matches', () => {
    expect(decideContainer('h', running('h'), undefined)).toEqual({ kind: 'keep', hash: 'h', skippedHashCheck: false });
  });
  it('recreates a running container whose label differs, counting a restart', () => {
    expect(decideContainer('new', running('old'), undefined)).toEqual({ kind: 'create', attempt: 3, restartCount: 3, hash: 'new', reason: 'definition-changed' });
  });
  it('keeps it when the patch skips the check; not for a container started at or after the kubelet', () => {
    expect(decideContainer('new', running('old', 9n), cache())).toMatchObject({ kind: 'keep', skippedHashCheck: true });
    expect(decideContainer('new', running('old', 10n), cache())).toMatchObject({ kind: 'create', reason: 'definition-changed' });
  });
  it('starts again a container that is created but not started, or exited: they are not running', () => {
    expect(decideContainer('h', running('h', 0n, 'created'), cache())).toMatchObject({ kind: 'create', reason: 'not-running', attempt: 3, restartCount: 3 });
    expect(decideContainer('h', running('h', 5n, 'exited'), cache())).toMatchObject({ kind: 'create', reason: 'not-running' });
  });
});

describe('init containers (findNextInitContainerToRun)', () => {
  const c = (state: RuntimeContainer['state'], exitCode = 0, attempt = 0): RuntimeContainer => ({ id: 'x', attempt, state, hashLabel: 'h', restartCount: attempt, startedAtNs: 1n, exitCode });
  it('starts the first, waits for a running one, moves on after a success, is done after the last', () => {
    expect(nextInitStep(['a', 'b'], () => undefined)).toEqual({ kind: 'start', index: 0, attempt: 0, restartCount: 0 });
    expect(nextInitStep(['a', 'b'], (n) => (n === 'a' ? c('running') : undefined))).toEqual({ kind: 'wait', name: 'a' });
    expect(nextInitStep(['a', 'b'], (n) => (n === 'a' ? c('exited') : undefined))).toEqual({ kind: 'start', index: 1, attempt: 0, restartCount: 0 });
    expect(nextInitStep(['a', 'b'], () => c('exited'))).toEqual({ kind: 'done' });
    expect(nextInitStep([], () => undefined)).toEqual({ kind: 'done' });
  });
  it('restarts a failed one, and counts a created one as neither running nor exited', () => {
    expect(nextInitStep(['a', 'b'], (n) => (n === 'b' ? c('exited', 1, 2) : c('exited')))).toEqual({ kind: 'start', index: 1, attempt: 3, restartCount: 3 });
    expect(nextInitStep(['a'], () => c('created'))).toEqual({ kind: 'start', index: 0, attempt: 0, restartCount: 0 });
  });
});

describe('lab kubelet flags', () => {
  it('accepts a flag until the version that removed it', () => {
    expect(parseKubeletArgs(['--cadvisor-port=0'], 'v1.11.10').get('cadvisor-port')).toBe('0');
    expect(() => parseKubeletArgs(['--cadvisor-port=0'], 'v1.12.10')).toThrow('unknown flag: --cadvisor-port');
    expect(() => parseKubeletArgs(['--allow-privileged=true'], 'v1.15.12')).toThrow('unknown flag');
    expect(parseKubeletArgs(['--allow-privileged'], 'v1.14.10').get('allow-privileged')).toBe('true');
  });
  it('refuses removed feature gates and, from 1.16, restricted node labels', () => {
    expect(() => parseKubeletArgs(['--feature-gates=Accelerators=true'], 'v1.11.10')).toThrow('unrecognized feature gate: Accelerators');
    expect(parseKubeletArgs(['--feature-gates=Accelerators=true'], 'v1.10.13').get('feature-gates')).toBe('Accelerators=true');
    expect(() => parseKubeletArgs(['--node-labels=node-role.kubernetes.io/worker='], 'v1.16.15')).toThrow("unknown 'kubernetes.io' or 'k8s.io' labels");
    expect(parseKubeletArgs(['--node-labels=node-role.kubernetes.io/worker='], 'v1.15.12').get('node-labels')).toBe('node-role.kubernetes.io/worker=');
  });
});
