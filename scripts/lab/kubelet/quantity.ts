/**
 * resource.Quantity as an exact integer of milli-units, enough for the kubelet's admission
 * arithmetic (MilliValue for cpu, Value for the rest): decimal and binary SI suffixes and
 * decimal exponents (k8s.io/apimachinery/pkg/api/resource/quantity.go, ParseQuantity's grammar).
 */
import { KipError } from '../../../lib/errors.ts';

const SUFFIX: Readonly<Record<string, bigint>> = {
  '': 1000n, m: 1n, k: 1000n ** 2n, M: 1000n ** 3n, G: 1000n ** 4n, T: 1000n ** 5n, P: 1000n ** 6n, E: 1000n ** 7n,
  Ki: 1024n * 1000n, Mi: 1024n ** 2n * 1000n, Gi: 1024n ** 3n * 1000n, Ti: 1024n ** 4n * 1000n, Pi: 1024n ** 5n * 1000n, Ei: 1024n ** 6n * 1000n,
};

export class QuantityError extends KipError {
  constructor(text: string) {
    super('LAB_BAD_QUANTITY', `not a resource quantity: ${JSON.stringify(text)}`, { text });
  }
}

/** Milli-units, rounded up as Quantity.MilliValue() rounds (ceiling). */
export function milliValue(text: string): bigint {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?)$/.exec(text.trim());
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw new QuantityError(text);
  const sign = m[1] === '-' ? -1n : 1n;
  const whole = m[2] ?? '';
  const frac = m[3] ?? '';
  let num = BigInt(`${whole}${frac}` || '0');
  let den = 10n ** BigInt(frac.length);
  if (m[4]) {
    const exp = Number(m[4].slice(1));
    if (exp >= 0) num *= 10n ** BigInt(exp);
    else den *= 10n ** BigInt(-exp);
    num *= 1000n;
  } else {
    num *= SUFFIX[m[5] ?? '']!;
  }
  const q = num / den;
  return sign * (num % den === 0n ? q : q + 1n);
}

/** Whole units, rounded up (Quantity.Value()). */
export function value(text: string): bigint {
  const milli = milliValue(text);
  return milli % 1000n === 0n ? milli / 1000n : milli / 1000n + 1n;
}
