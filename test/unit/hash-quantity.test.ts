import { describe, expect, it } from 'vitest';
import { QuantityParseError, parseQuantity, quantityString } from '../../lib/knowledge/hash/quantity.ts';
import { hashEngine, parseJson } from '../../lib/knowledge/hash/index.ts';

// k8s.io/apimachinery pkg/api/resource/quantity_test.go (kubernetes-1.17.17) TestQuantityString:
// parsing the canonical form caches it in `s`; parsing the alternate form leaves `s` empty and
// canonicalizes to the expected string.
const canonical: [string, string][] = [
  ['1Gi', '1024Mi'], ['300Mi', '307200Ki'], ['6Ki', ''], ['1001Gi', '1025024Mi'], ['1Ti', '1024Gi'],
  ['5', '5000m'], ['500m', '0.5'], ['1G', '1000M'], ['1G', '0.001T'], ['1m', '1000u'], ['80m', ''],
  ['1080m', '1.08'], ['1080m', '1080000000n'], ['300M', ''], ['1T', ''], ['1234567M', ''],
  ['1234567m', ''], ['3k', ''], ['1025', ''], ['0', '00'], ['1e9', '.001e12'], ['1e-3', '0.001e0'],
  ['1e-9', '1000e-12'], ['80e-3', ''], ['300e6', ''], ['1e12', ''], ['1e3', ''], ['3e3', ''],
  ['1n', ''], ['80n', ''], ['1080n', ''], ['1u', ''], ['80u', ''], ['1080u', ''],
];
// TestQuantityParseEmit (same file): input -> String().
const parseEmit: [string, string][] = [
  ['1Ki', '1Ki'], ['1Mi', '1Mi'], ['1Gi', '1Gi'], ['1024Mi', '1Gi'], ['1000M', '1G'],
  ['.001Ki', '1024m'], ['.000001Ki', '1024u'], ['.000000001Ki', '1024n'], ['.000000000001Ki', '2n'],
];

describe('resource.Quantity', () => {
  it.each(canonical)('%s is canonical and cached; %s canonicalizes to it', (expect_, alternate) => {
    const q = parseQuantity(expect_);
    expect(q.s).toBe(expect_);
    expect(quantityString(q)).toBe(expect_);
    if (alternate) {
      const alt = parseQuantity(alternate);
      expect(alt.s).toBe('');
      expect(quantityString(alt)).toBe(expect_);
    }
  });

  it.each(parseEmit)('%s prints as %s, and its negation as -%s', (input, want) => {
    expect(quantityString(parseQuantity(input))).toBe(want);
    expect(quantityString(parseQuantity(`-${input}`))).toBe(`-${want}`);
  });

  it('keeps int64Amount for the fast path and caches only forms ParseQuantity would', () => {
    expect(parseQuantity('500m')).toMatchObject({ i: { value: 500n, scale: -3 }, dec: null, s: '500m', format: 'DecimalSI' });
    // 512 & 7 == 0: the binary form is not cached (vector res-basic)
    expect(parseQuantity('512Mi')).toMatchObject({ i: { value: 536870912n, scale: 0 }, dec: null, s: '', format: 'BinarySI' });
    expect(parseQuantity('0.5')).toMatchObject({ i: { value: 5n, scale: -1 }, s: '' });
  });

  it('takes the inf.Dec path for fractional binary amounts, rounded up to nano scale', () => {
    const q = parseQuantity('1.5Gi');
    expect(q.dec).toEqual({ unscaled: 1610612736000000000n, scale: 9 });
    expect(quantityString(q)).toBe('1536Mi');
    const tiny = parseQuantity('1e-10');
    expect(tiny.dec).toEqual({ unscaled: 1n, scale: 9 });
    expect(quantityString(tiny)).toBe('1e-9');
  });

  it('caps binary amounts at the int64 maximum', () => {
    const q = parseQuantity('9999999999Ei');
    expect(q.dec).toEqual({ unscaled: 2n ** 63n - 1n, scale: 0 });
  });

  it.each(['', 'abc', '1.2.3', '1Qi', '--1', '1e', '1 2', '1.5e', 'Gi1'])('refuses %j', (input) => {
    expect(() => parseQuantity(input)).toThrow(QuantityParseError);
  });

  it('prints a Dec with a multi-word nat as go-spew does (least significant word first)', () => {
    const engine = hashEngine('1.10');
    const c = engine.decode(parseJson('{"name":"a","resources":{"limits":{"memory":"100000000000Pi"}}}'));
    const text = engine.hashInput(c);
    // 100000000000 * 2^50 * 10^9 needs three 64-bit words; the cap does not apply to... it does:
    // BinarySI is capped at 2^63-1 with scale 0.
    expect(text).toContain('memory:{i:(resource.int64Amount){value:(int64)0 scale:(resource.Scale)0} d:(resource.infDecAmount){Dec:(*inf.Dec){unscaled:(big.Int){neg:(bool)false abs:(big.nat)[9223372036854775807]} scale:(inf.Scale)0}} s:(string) Format:(resource.Format)BinarySI}');
    const dec = engine.decode(parseJson('{"name":"a","resources":{"limits":{"cpu":"100000000000000000000000"}}}'));
    // 10^23 at nano scale = 10^32 = 5421010862 * 2^64 + 7145508134571769856... check via BigInt
    const v = 10n ** 32n;
    const words = `${v & (2n ** 64n - 1n)} ${v >> 64n}`;
    expect(engine.hashInput(dec)).toContain(`abs:(big.nat)[${words}]} scale:(inf.Scale)9}`);
  });
});

describe('ParseQuantity oddities kept on purpose', () => {
  it('reads a bare exponent as zero, as Go does ("e3" has no digits, so num defaults to "0")', () => {
    expect(parseQuantity('e3')).toMatchObject({ i: { value: 0n, scale: 3 }, s: '', format: 'DecimalExponent' });
  });
});
