import { describe, expect, it } from 'vitest';
import { containerHash, parseJson } from '../../lib/knowledge/hash/index.ts';
import { admitPod, decideContainer } from '../../scripts/lab/kubelet/rules.ts';
import { parseSkipFileContent, readSkipStateAtStart, skipsHashCheck, type SkipState } from '../../scripts/lab/kubelet/skip-file.ts';
import { parseKubeletArgs } from '../../scripts/lab/kubelet/flags.ts';

const spec = parseJson('{"name":"web","image":"nginx","volumeMounts":[{"name":"t","mountPath":"/t"}]}');
const h = (v: string): string => containerHash(spec, v).label;

describe('the patched kubelet skip file, as the patch reads it', () => {
  it('parses "<version>,<time>" with spaces ignored and exactly two fields', () => {
    expect(parseSkipFileContent('v1.10.13,1574812800')).toEqual({ version: 'v1.10.13', time: '1574812800' });
    expect(parseSkipFileContent(' v1.10.13 , 1574812800 ')).toEqual({ version: 'v1.10.13', time: '1574812800' });
    expect(parseSkipFileContent('v1.10.13,1574812800\n')).toEqual({ version: 'v1.10.13', time: '1574812800\n' });
    expect(parseSkipFileContent('v1.10.13')).toBeUndefined();
    expect(parseSkipFileContent('v1.10.13,1,2')).toBeUndefined();
  });

  it('creates the file with its own version when missing, and then skips nothing', async () => {
    const files = new Map<string, string>();
    const fs = {
      readFile: async (p: string) => {
        const v = files.get(p);
        if (v === undefined) throw Object.assign(new Error('missing'), { code: 'ENOENT' });
        return v;
      },
      writeFile: async (p: string, c: string) => void files.set(p, c),
    };
    const state = await readSkipStateAtStart(fs, '/tmp/cache.version.save', 'v1.14.10', 1700000000);
    expect(state).toEqual({ kind: 'created', ownVersion: 'v1.14.10' });
    expect(files.get('/tmp/cache.version.save')).toBe('v1.14.10,1700000000');
    expect(skipsHashCheck(state, 'v1.14.10', 2000, 1000)).toBe(false);
  });

  it('skips only containers started before the kubelet, while the versions differ (plain string comparison)', () => {
    const state: SkipState = { kind: 'history', historyVersion: 'v1.13.12', recordedAt: '1' };
    expect(skipsHashCheck(state, 'v1.14.10', 2000, 1000)).toBe(true);
    expect(skipsHashCheck(state, 'v1.14.10', 2000, 3000)).toBe(false);
    expect(skipsHashCheck(state, 'v1.13.12', 2000, 1000)).toBe(false);
    // a placeholder build on both sides compares equal and skips nothing
    expect(skipsHashCheck({ kind: 'history', historyVersion: 'v0.0.0-master+$Format:%h$', recordedAt: '1' }, 'v0.0.0-master+$Format:%h$', 2000, 1000)).toBe(false);
    expect(skipsHashCheck({ kind: 'disabled', reason: 'x' }, 'v1.14.10', 2000, 1000)).toBe(false);
  });
});

describe('kubelet sync rule', () => {
  const ctx = (skip?: SkipState) => ({ kubeletVersion: 'v1.14.10', kubeletStartedAtMs: 10_000, skip });
  const running = (hash: string, startedAtMs = 5_000) => ({ id: 'c1', attempt: 2, running: true, hashLabel: hash, restartCount: 2, startedAtMs });

  it('creates a missing container with its version\'s hash', () => {
    expect(decideContainer(spec, undefined, ctx())).toEqual({ kind: 'create', attempt: 0, restartCount: 0, hash: h('1.14'), reason: 'new' });
  });
  it('keeps a container whose label matches', () => {
    expect(decideContainer(spec, running(h('1.14')), ctx())).toMatchObject({ kind: 'keep', skippedHashCheck: false });
  });
  it('recreates a container whose label differs ("Container definition changed"), counting a restart', () => {
    expect(decideContainer(spec, running(h('1.13')), ctx())).toEqual({ kind: 'create', attempt: 3, restartCount: 3, hash: h('1.14'), reason: 'definition-changed' });
  });
  it('keeps it when patched and the skip file names another version', () => {
    const skip: SkipState = { kind: 'history', historyVersion: 'v1.13.12', recordedAt: '1' };
    expect(decideContainer(spec, running(h('1.13')), ctx(skip))).toMatchObject({ kind: 'keep', skippedHashCheck: true });
    // but not a container started after this kubelet
    expect(decideContainer(spec, running(h('1.13'), 20_000), ctx(skip))).toMatchObject({ kind: 'create', reason: 'definition-changed' });
  });
  it('restarts an exited container', () => {
    expect(decideContainer(spec, { ...running(h('1.14')), running: false }, ctx())).toMatchObject({ kind: 'create', reason: 'exited', attempt: 3 });
  });
});

describe('admission', () => {
  it('refuses a pod whose nodeSelector its node does not satisfy', () => {
    expect(admitPod({ disktype: 'ssd' }, { disktype: 'hdd' })).toEqual({ admitted: false, reason: 'MatchNodeSelector', message: 'Pod Predicate MatchNodeSelector failed' });
    expect(admitPod({ disktype: 'ssd' }, {})).toMatchObject({ admitted: false });
    expect(admitPod({ disktype: 'ssd' }, { disktype: 'ssd', zone: 'a' })).toEqual({ admitted: true });
    expect(admitPod(undefined, {})).toEqual({ admitted: true });
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
