import { describe, expect, it } from 'vitest';
import { envFileVariables, parseEnvFile, serializeEnvAssignment } from '../../agent/kubelet/index.ts';

function vars(content: string): Record<string, string> {
  return Object.fromEntries([...envFileVariables(parseEnvFile(content))].map(([k, a]) => [k, a.value]));
}

describe('systemd EnvironmentFile syntax', () => {
  it('reads plain assignments, ignoring comments and blank lines', () => {
    expect(vars('# comment\n; also comment\n\nA=1\n  B = two words  \nC=\n')).toEqual({ A: '1', B: 'two words', C: '' });
  });

  it('handles double quotes with escapes', () => {
    expect(vars('A="x \\"y\\" \\$HOME \\\\ \\n"\n')).toEqual({ A: 'x "y" $HOME \\ \\n' });
  });

  it('keeps single-quoted text literally, newlines included', () => {
    expect(vars("A='a \\n \"b\"\nsecond line'\nB=1")).toEqual({ A: 'a \\n "b"\nsecond line', B: '1' });
  });

  it('joins lines ending in a backslash (unquoted and double-quoted)', () => {
    expect(vars('A=--foo \\\n--bar\nB="x\\\ny"\n')).toEqual({ A: '--foo --bar', B: 'xy' });
  });

  it('continues a comment that ends in a backslash', () => {
    expect(vars('# comment \\\nA=hidden\nB=shown\n')).toEqual({ B: 'shown' });
  });

  it('concatenates quoted parts and keeps quotes inside unquoted values', () => {
    expect(vars(`A='x' "y"\nB=a"b c"\nC='p'q\n`)).toEqual({ A: 'xy', B: 'a"b c"', C: 'pq' });
  });

  it('lets the last assignment win and ignores invalid names and lines without =', () => {
    const parsed = parseEnvFile('A=1\nexport B=2\nnonsense\nA=3\n');
    expect(vars('A=1\nexport B=2\nnonsense\nA=3\n')).toEqual({ A: '3' });
    expect(parsed.ignored.map((i) => i.reason)).toEqual(['invalid variable name "export B"', 'no "=" on the line']);
  });

  it('handles CRLF and a missing final newline', () => {
    expect(vars('A=1\r\nB="2"\r\nC=3')).toEqual({ A: '1', B: '2', C: '3' });
  });

  it('records each assignment span exactly', () => {
    const content = '# head\nKUBELET_EXTRA_ARGS="--a --b" \nX=1\n';
    const a = parseEnvFile(content).assignments[0];
    expect(a && content.slice(a.start, a.end)).toBe('KUBELET_EXTRA_ARGS="--a --b" ');
    expect(a?.quote).toBe('double');
  });

  it.each([
    ['--a --b', 'none'],
    ['--a --b', 'double'],
    ['--a --b', 'single'],
    ["it's", 'single'],
    ['$x "q" \\ `b`', 'double'],
    ['', 'none'],
    [' lead', 'none'],
    ['a\\b', 'none'],
  ] as const)('serializes %j (%s) so it reads back the same', (value, style) => {
    const line = serializeEnvAssignment('K', value, style);
    expect(vars(`${line}\n`)).toEqual({ K: value });
  });
});
