/**
 * resource.Quantity as k8s.io/apimachinery parses and prints it (pkg/api/resource/quantity.go,
 * amount.go, math.go, suffix.go; identical in the parts used here from kubernetes-1.10.13 to
 * kubernetes-1.30.14), with gopkg.in/inf.v0's Dec arithmetic for the slow path. The unexported
 * fields (the int64Amount, the *inf.Dec, the cached string `s`) end up in go-spew's output for
 * Kubernetes 1.10-1.15, so they must be exactly what ParseQuantity leaves; the canonical string
 * goes into the JSON hashed from 1.16.
 */
import type { QuantityValue } from './types.ts';

type Format = QuantityValue['format'];

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const wrap64 = (v: bigint): bigint => BigInt.asIntN(64, v);
/** Go's truncated integer division. */
const quo = (a: bigint, b: bigint): bigint => a / b;

export class QuantityParseError extends Error {
  constructor(readonly reason: 'format' | 'numeric' | 'suffix') {
    super(reason === 'format'
      ? "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
      : reason === 'numeric' ? 'unable to parse numeric part of quantity' : "unable to parse quantity's suffix");
  }
}

interface Parts { positive: boolean; value: string; num: string; denom: string; suffix: string }

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

function parseQuantityString(str: string): Parts {
  let positive = true;
  let pos = 0;
  const end = str.length;
  if (pos < end) {
    if (str[0] === '-') {
      positive = false;
      pos++;
    } else if (str[0] === '+') {
      pos++;
    }
  }
  // leading zeros
  for (let i = pos; ; i++) {
    if (i >= end) return { positive, value: '0', num: '0', denom: '', suffix: '' };
    if (str[i] === '0') pos++;
    else break;
  }
  let num = '';
  let i = pos;
  for (; ; i++) {
    if (i >= end) return { positive, value: str.slice(0, end), num: str.slice(pos, end), denom: '', suffix: '' };
    if (!isDigit(str[i])) break;
  }
  num = str.slice(pos, i);
  pos = i;
  if (num.length === 0) num = '0';
  let denom = '';
  if (pos < end && str[pos] === '.') {
    pos++;
    let j = pos;
    for (; ; j++) {
      if (j >= end) return { positive, value: str.slice(0, end), num, denom: str.slice(pos, end), suffix: '' };
      if (!isDigit(str[j])) break;
    }
    denom = str.slice(pos, j);
    pos = j;
  }
  const value = str.slice(0, pos);
  const suffixStart = pos;
  for (let k = pos; ; k++) {
    if (k >= end) return { positive, value, num, denom, suffix: str.slice(suffixStart, end) };
    if (!'eEinumkKMGTP'.includes(str[k]!)) {
      pos = k;
      break;
    }
  }
  if (pos < end && (str[pos] === '-' || str[pos] === '+')) pos++;
  for (let k = pos; ; k++) {
    if (k >= end) return { positive, value, num, denom, suffix: str.slice(suffixStart, end) };
    if (!isDigit(str[k])) break;
  }
  throw new QuantityParseError('format');
}

interface Suffix { base: 2 | 10; exponent: number; format: Exclude<Format, ''> }

const DEC_SUFFIXES: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BIN_SUFFIXES: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };

function interpretSuffix(s: string): Suffix {
  const dec = DEC_SUFFIXES[s];
  if (dec !== undefined && Object.hasOwn(DEC_SUFFIXES, s)) return { base: 10, exponent: dec, format: 'DecimalSI' };
  const bin = BIN_SUFFIXES[s];
  if (bin !== undefined && Object.hasOwn(BIN_SUFFIXES, s)) return { base: 2, exponent: bin, format: 'BinarySI' };
  if (s.length > 1 && (s[0] === 'E' || s[0] === 'e')) {
    const parsed = goParseInt64(s.slice(1));
    if (parsed === undefined) throw new QuantityParseError('suffix');
    return { base: 10, exponent: Number(BigInt.asIntN(32, parsed)), format: 'DecimalExponent' };
  }
  throw new QuantityParseError('suffix');
}

/** strconv.ParseInt(s, 10, 64): optional sign, decimal digits, in range. */
export function goParseInt64(s: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const v = BigInt(s);
  return v < INT64_MIN || v > INT64_MAX ? undefined : v;
}

function int64Multiply(a: bigint, b: bigint): [bigint, boolean] {
  if (a === 0n || b === 0n || a === 1n || b === 1n) return [wrap64(a * b), true];
  if (a === INT64_MIN || b === INT64_MIN) return [0n, false];
  const c = wrap64(a * b);
  return [c, quo(c, b) === a];
}

// ---- inf.Dec operations used by ParseQuantity and canonicalization ----

interface Dec { unscaled: bigint; scale: number }

/** inf.Dec.SetString: sign, digits and at most one point; scale = digits after the point. */
function decSetString(s: string): Dec | undefined {
  const m = /^([+-]?)([0-9]*)(?:\.([0-9]*))?$/.exec(s);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return undefined;
  const digits = (m[2] ?? '') + (m[3] ?? '');
  const unscaled = BigInt(digits) * (m[1] === '-' ? -1n : 1n);
  return { unscaled, scale: m[3] === undefined ? 0 : m[3].length };
}

const pow10 = (n: number): bigint => 10n ** BigInt(n);

/** inf.Dec.Round(x, s, inf.RoundUp): to scale s, rounding away from zero. */
function decRoundUp(x: Dec, s: number): Dec {
  const shift = s - x.scale;
  if (shift >= 0) return { unscaled: x.unscaled * pow10(shift), scale: s };
  const d = pow10(-shift);
  let q = x.unscaled / d;
  const r = x.unscaled % d;
  if (r !== 0n) q += x.unscaled < 0n ? -1n : 1n;
  return { unscaled: q, scale: s };
}

/** inf.Dec.Cmp. */
function decCmp(a: Dec, b: Dec): number {
  const s = Math.max(a.scale, b.scale);
  // Upscaling by a positive shift multiplies; inf rescales the one with the smaller scale.
  const av = a.scale === s ? a.unscaled : a.unscaled * pow10(s - a.scale);
  const bv = b.scale === s ? b.unscaled : b.unscaled * pow10(s - b.scale);
  return av < bv ? -1 : av > bv ? 1 : 0;
}

const DEC_ONE: Dec = { unscaled: 1n, scale: 0 };
const DEC_ZERO: Dec = { unscaled: 0n, scale: 0 };
const MAX_ALLOWED: Dec = { unscaled: INT64_MAX, scale: 0 };
const NANO_INF_SCALE = 9;

/** resource.ParseQuantity. */
export function parseQuantity(str: string): QuantityValue {
  if (str.length === 0) throw new QuantityParseError('format');
  if (str === '0') return { q: true, i: { value: 0n, scale: 0 }, dec: null, s: str, format: 'DecimalSI' };

  const { positive, value, num, denom, suffix } = parseQuantityString(str);
  const { base, exponent, format: parsedFormat } = interpretSuffix(suffix);
  let format: Exclude<Format, ''> = parsedFormat;

  let precision = 0;
  let scale = 0;
  let mantissa = 1n;
  if (format === 'DecimalExponent' || format === 'DecimalSI') {
    scale = exponent;
    precision = 18 - (num.length + denom.length);
  } else if (exponent >= 0 && denom.length === 0) {
    mantissa = wrap64(1n << BigInt(exponent));
    // Go: 15 - int32(len(num)) - int32(float32(exponent)*3/10) - 1
    precision = 15 - num.length - Math.trunc(Math.fround(Math.fround(exponent * 3) / 10)) - 1;
  } else {
    precision = -1;
  }

  if (precision >= 0) {
    scale -= denom.length;
    if (scale >= -9) {
      const shifted = num + denom;
      const parsed = goParseInt64(shifted);
      if (parsed === undefined) throw new QuantityParseError('numeric');
      const [product, ok] = int64Multiply(parsed, mantissa);
      if (ok) {
        const result = positive ? product : wrap64(-product);
        if (format === 'BinarySI') {
          if (exponent % 10 === 0 && (parsed & 7n) !== 0n) {
            return { q: true, i: { value: result, scale }, dec: null, s: str, format };
          }
        } else if (scale % 3 === 0 && !shifted.endsWith('000') && shifted[0] !== '0') {
          return { q: true, i: { value: result, scale }, dec: null, s: str, format };
        }
        return { q: true, i: { value: result, scale }, dec: null, s: '', format };
      }
    }
  }

  const parsedDec = decSetString(value);
  if (!parsedDec) throw new QuantityParseError('numeric');
  let amount: Dec = parsedDec;
  if (base === 10) {
    amount = { unscaled: amount.unscaled, scale: amount.scale - exponent };
  } else {
    amount = { unscaled: amount.unscaled * (1n << BigInt(exponent)), scale: amount.scale };
  }
  const negative = amount.unscaled < 0n;
  if (negative) amount = { unscaled: -amount.unscaled, scale: amount.scale };
  // Unscaled() is (value, fits in int64); Round when v != 0 || !ok, i.e. when non-zero.
  if (amount.unscaled !== 0n) amount = decRoundUp(amount, NANO_INF_SCALE);
  if (format === 'BinarySI' && decCmp(amount, MAX_ALLOWED) > 0) amount = { ...MAX_ALLOWED };
  if (format === 'BinarySI' && decCmp(amount, DEC_ONE) < 0 && decCmp(amount, DEC_ZERO) > 0) format = 'DecimalSI';
  if (negative) amount = { unscaled: -amount.unscaled, scale: amount.scale };
  return { q: true, i: { value: 0n, scale: 0 }, dec: amount, s: '', format };
}

// ---- canonical form (Quantity.MarshalJSON / String) ----

function negativeScaleInt64(base: bigint, scale: number): [bigint, boolean] {
  if (scale === 0) return [base, true];
  let value = base;
  let fraction = false;
  for (let i = 0; i < scale; i++) {
    if (!fraction && value % 10n !== 0n) fraction = true;
    value = value / 10n;
    if (value === 0n) {
      if (fraction) return [base > 0n ? 1n : -1n, false];
      return [0n, true];
    }
  }
  if (fraction) value = base > 0n ? value + 1n : value - 1n;
  return [value, !fraction];
}

function int64MultiplyScale(a: bigint, b: bigint): [bigint, boolean] {
  if (a === 0n || a === 1n) return [wrap64(a * b), true];
  if (a === INT64_MIN && b !== 1n) return [0n, false];
  const c = wrap64(a * b);
  return [c, quo(c, b) === a];
}

function int64MultiplyScaleFixed(a: bigint, b: bigint): [bigint, boolean] {
  // int64MultiplyScale10/100/1000: like int64MultiplyScale but refuse mostNegative outright
  if (a === 0n || a === 1n) return [wrap64(a * b), true];
  if (a === INT64_MIN) return [0n, false];
  const c = wrap64(a * b);
  return [c, quo(c, b) === a];
}

function positiveScaleInt64(base: bigint, scale: number): [bigint, boolean] {
  switch (scale) {
    case 0: return [base, true];
    case 1: return int64MultiplyScaleFixed(base, 10n);
    case 2: return int64MultiplyScaleFixed(base, 100n);
    case 3: return int64MultiplyScaleFixed(base, 1000n);
    case 6: return int64MultiplyScale(base, 1_000_000n);
    case 9: return int64MultiplyScale(base, 1_000_000_000n);
    default: {
      let value = base;
      for (let i = 0; i < scale; i++) {
        const [v, ok] = int64MultiplyScale(value, 10n);
        if (!ok) return [0n, false];
        value = v;
      }
      return [value, true];
    }
  }
}

function removeFactors(value: bigint, base: bigint): [bigint, number] {
  let result = value < 0n ? -value : value;
  let times = 0;
  while (result >= base && result % base === 0n) {
    times++;
    result /= base;
  }
  return [value < 0n ? -result : result, times];
}

/** removeBigIntFactors: divides while the remainder is zero (0 stays 0 with no count). */
function removeBigFactors(value: bigint, base: bigint): [bigint, number] {
  let d = value;
  let times = 0;
  while (d !== 0n) {
    if (((d % base) + base) % base !== 0n) break;
    times++;
    d = d / base;
  }
  return [d, times];
}

function decAsCanonical(dec: Dec): [string, number] {
  let exponent = -dec.scale;
  let [amount, times] = removeBigFactors(dec.unscaled, 10n);
  exponent += times;
  while (exponent % 3 !== 0) {
    amount *= 10n;
    exponent--;
  }
  return [amount.toString(), exponent];
}

function intAsCanonical(value: bigint, scale: number): [string, number] {
  let [amount, times] = removeFactors(value, 10n);
  let exponent = scale + times;
  const mod = exponent % 3;
  if (mod === 1 || mod === -2) {
    const [v, ok] = int64MultiplyScaleFixed(amount, 10n);
    if (!ok) return decAsCanonical({ unscaled: value, scale: -scale });
    amount = v;
    exponent -= 1;
  } else if (mod === 2 || mod === -1) {
    const [v, ok] = int64MultiplyScaleFixed(amount, 100n);
    if (!ok) return decAsCanonical({ unscaled: value, scale: -scale });
    amount = v;
    exponent -= 2;
  }
  return [amount.toString(), exponent];
}

const DEC_SUFFIX_BY_EXP = new Map(Object.entries(DEC_SUFFIXES).map(([s, e]) => [e, s]));
const BIN_SUFFIX_BY_EXP = new Map(Object.entries(BIN_SUFFIXES).map(([s, e]) => [e, s]));

function decimalSuffix(exponent: number, format: Format): string {
  if (format === 'DecimalExponent') return exponent === 0 ? '' : `e${exponent}`;
  // An exponent with no SI suffix yields an empty suffix in Go (the lookup's failure is ignored).
  return DEC_SUFFIX_BY_EXP.get(exponent) ?? '';
}

/** Quantity.String() / MarshalJSON's text: the cached string when set, else the canonical form. */
export function quantityString(q: QuantityValue): string {
  return q.s.length > 0 ? q.s : canonicalize(q);
}

function canonicalize(q: QuantityValue): string {
  const isZero = q.dec ? q.dec.unscaled === 0n : q.i.value === 0n;
  if (isZero) return '0';
  let format: Format = q.format;
  let rounded: { kind: 'int'; value: bigint; scale: number } | { kind: 'dec'; dec: Dec } | undefined;
  if (format === 'BinarySI') {
    if (cmpInt64(q, -1024n) > 0 && cmpInt64(q, 1024n) < 0) {
      format = 'DecimalSI';
    } else if (q.dec) {
      const r = decRoundUp(q.dec, 0);
      rounded = { kind: 'dec', dec: r };
      if (decCmp(r, q.dec) !== 0) format = 'DecimalSI';
    } else if (q.i.scale >= 0) {
      rounded = { kind: 'int', value: q.i.value, scale: q.i.scale };
    } else {
      const [v, exact] = negativeScaleInt64(q.i.value, -q.i.scale);
      rounded = { kind: 'int', value: v, scale: 0 };
      if (!exact) format = 'DecimalSI';
    }
  } else if (format === '') {
    format = 'DecimalExponent';
  }
  if (format !== 'BinarySI') {
    const [number, exponent] = q.dec ? decAsCanonical(q.dec) : intAsCanonical(q.i.value, q.i.scale);
    return number + decimalSuffix(exponent, format);
  }
  if (!rounded) throw new Error('unreachable: BinarySI without a rounded value');
  let number: bigint;
  let exponent: number;
  if (rounded.kind === 'int') {
    // int64Amount.AsCanonicalBase1024Bytes: AsScaledInt64(0), falling back to the Dec form
    const scaled = rounded.scale < 0 ? [negativeScaleInt64(rounded.value, -rounded.scale)[0], true] as const : positiveScaleInt64(rounded.value, rounded.scale);
    if (scaled[1]) {
      [number, exponent] = removeFactors(scaled[0], 1024n);
    } else {
      const r = decRoundUp({ unscaled: rounded.value, scale: -rounded.scale }, 0);
      [number, exponent] = removeBigFactors(r.unscaled, 1024n);
    }
  } else {
    const r = decRoundUp(rounded.dec, 0);
    [number, exponent] = removeBigFactors(r.unscaled, 1024n);
  }
  return number.toString() + (BIN_SUFFIX_BY_EXP.get(exponent * 10) ?? '');
}

function cmpInt64(q: QuantityValue, y: bigint): number {
  if (q.dec) return decCmp(q.dec, { unscaled: y, scale: 0 });
  // int64Amount.Cmp against {value: y, scale: 0}; exact comparison gives the same answer.
  return decCmp({ unscaled: q.i.value, scale: -q.i.scale }, { unscaled: y, scale: 0 });
}

/** The zero Quantity (a field absent from the JSON, or `null`). */
export const ZERO_QUANTITY: QuantityValue = { q: true, i: { value: 0n, scale: 0 }, dec: null, s: '', format: '' };
