import { describe, expect, it } from 'vitest';
import { formatSkipFile, parseSkipFile } from '../../agent/upgrade/skipfile.ts';
import { checkUpgradePath, isPlaceholderVersion, parseRealVersion, versionInOutput } from '../../lib/knowledge/version.ts';

describe('skip file', () => {
  it('formats without a trailing newline', () => {
    expect(formatSkipFile('v1.10.13', 1574812800.9)).toBe('v1.10.13,1574812800');
  });
  // What the patch accepts (kubernetes-1.9.1.IgnoreContainerRestart.patch, cache_version.go
  // GetFileContent): every space removed, then exactly two comma-separated fields; the first is
  // the history version whatever it holds (an empty one too), an unparsable time is only logged.
  it.each([
    ['v1.10.13,1574812800', true, 'v1.10.13'],
    [' v1.10.13 , 1574812800 ', true, 'v1.10.13'],
    ['v1.10.13,1574812800\n', true, 'v1.10.13'],
    ['1.10.13,1574812800', true, '1.10.13'],
    ['v1.10.13,', true, 'v1.10.13'],
    [',1574812800', true, ''],
    ['v1.10.13', false, ''],
    ['v1.10.13,1,2', false, ''],
    ['', false, ''],
  ])('%j valid=%s', (raw, valid, version) => {
    const s = parseSkipFile('/tmp/cache.version.save', raw);
    expect(s.valid).toBe(valid);
    expect(s.present).toBe(true);
    expect(s.version).toBe(version);
    if (!valid) expect(s.problem).toMatch(/skips nothing/);
  });
  it('keeps the time when the patch could parse it', () => {
    expect(parseSkipFile('/x', 'v1.10.13, 1574812800').unixSeconds).toBe(1574812800);
    expect(parseSkipFile('/x', 'v1.10.13,1574812800\n').unixSeconds).toBe(0);
  });
  it('absent', () => {
    expect(parseSkipFile('/x', undefined)).toMatchObject({ present: false, valid: false });
  });
});

describe('versions', () => {
  it('parses kubelet --version output', () => {
    expect(versionInOutput('Kubernetes v1.10.13\n')).toBe('v1.10.13');
    expect(versionInOutput('nothing')).toBeUndefined();
  });
  it('recognises the placeholder of unstamped builds', () => {
    expect(isPlaceholderVersion('v0.0.0-master+$Format:%h$')).toBe(true);
    expect(() => parseRealVersion('v0.0.0-master+$Format:%h$')).toThrow(/placeholder/);
  });
  it.each([
    ['v1.10.13', 'v1.11.10', ''],
    ['v1.10.13', 'v1.10.14', ''],
    ['v1.10.13', 'v1.12.0', 'SKEW_TOO_LARGE'],
    ['v1.11.10', 'v1.10.13', 'DOWNGRADE_REFUSED'],
    ['v1.11.10', 'v1.11.10', 'ALREADY_AT_VERSION'],
    ['v1.11.10', 'garbage', 'VERSION_INVALID'],
  ])('%s -> %s', (from, to, code) => {
    if (code === '') expect(() => checkUpgradePath(from, to)).not.toThrow();
    else expect(() => checkUpgradePath(from, to)).toThrow(expect.objectContaining({ code }));
  });
});
