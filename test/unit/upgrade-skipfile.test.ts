import { describe, expect, it } from 'vitest';
import { formatSkipFile, parseSkipFile } from '../../agent/upgrade/skipfile.ts';
import { checkUpgradePath, isPlaceholderVersion, parseRealVersion, versionInOutput } from '../../lib/knowledge/version.ts';

describe('skip file', () => {
  it('formats without a trailing newline', () => {
    expect(formatSkipFile('v1.10.13', 1574812800.9)).toBe('v1.10.13,1574812800');
  });
  it.each([
    ['v1.10.13,1574812800', true],
    [' v1.10.13 , 1574812800 ', true],
    ['v1.10.13,1574812800\n', false],
    ['v1.10.13', false],
    ['v1.10.13,1,2', false],
    ['1.10.13,1574812800', false],
    ['v1.10.13,', false],
  ])('%j valid=%s', (raw, valid) => {
    const s = parseSkipFile('/tmp/cache.version.save', raw);
    expect(s.valid).toBe(valid);
    expect(s.present).toBe(true);
    if (!valid) expect(s.problem).not.toBe('');
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
