/** FNV-1a, 32 bit (Go's hash/fnv New32a), over the UTF-8 encoding of a string. */
const OFFSET = 0x811c9dc5;
const PRIME = 0x01000193;

export function fnv1a32(s: string, seed = OFFSET): number {
  let h = seed;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      h = Math.imul(h ^ c, PRIME);
      continue;
    }
    if (c < 0x800) {
      h = Math.imul(h ^ (0xc0 | (c >> 6)), PRIME);
      h = Math.imul(h ^ (0x80 | (c & 0x3f)), PRIME);
      continue;
    }
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
      const lo = s.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo < 0xe000) {
        i++;
        c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
        h = Math.imul(h ^ (0xf0 | (c >> 18)), PRIME);
        h = Math.imul(h ^ (0x80 | ((c >> 12) & 0x3f)), PRIME);
        h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), PRIME);
        h = Math.imul(h ^ (0x80 | (c & 0x3f)), PRIME);
        continue;
      }
    }
    if (c >= 0xd800 && c < 0xe000) c = 0xfffd; // a lone surrogate is written as U+FFFD
    h = Math.imul(h ^ (0xe0 | (c >> 12)), PRIME);
    h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), PRIME);
    h = Math.imul(h ^ (0x80 | (c & 0x3f)), PRIME);
  }
  return h >>> 0;
}

const DECIMAL_BYTES: string[] = Array.from({ length: 256 }, (_, b) => String(b));

/**
 * FNV-1a of go-spew's `%#v` of a []byte holding the UTF-8 of `json`: `([]uint8)[123 34 ...]`.
 * Computed without building that string.
 */
export function fnv1a32OfSpewedBytes(json: string): number {
  const bytes = Buffer.from(json, 'utf8');
  let h = fnv1a32('([]uint8)[');
  for (let i = 0; i < bytes.length; i++) {
    if (i > 0) h = Math.imul(h ^ 0x20, PRIME);
    const digits = DECIMAL_BYTES[bytes[i]!]!;
    for (let j = 0; j < digits.length; j++) h = Math.imul(h ^ digits.charCodeAt(j), PRIME);
  }
  h = Math.imul(h ^ 0x5d, PRIME);
  return h >>> 0;
}
