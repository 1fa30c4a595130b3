/**
 * go-spew's `%#v` rendering (davecgh/go-spew v1.1.x format.go) of a decoded Go value, with the
 * printer config the kubelet uses in pkg/util/hash DeepHashObject: {Indent: " ", SortKeys: true,
 * DisableMethods: true, SpewKeys: true}. `%#v` prints no indentation; Indent only affects Dump.
 *
 * Rules reproduced: a value's type is printed in parentheses unless it is an element of a slice
 * or map (or a map key); a pointer prints `(*T)` and its pointee without a type, `<nil>` when nil;
 * nil slices and maps print `<nil>`; strings print raw, unquoted; struct fields print `Name:`;
 * map keys are sorted (string keys byte-wise).
 */
import type { GoType, GoValue, IntOrStringValue, QuantityValue } from './types.ts';

export function spew(t: GoType, v: GoValue): string {
  return formatValue(t, v, true);
}

function formatValue(t: GoType, v: GoValue, showType: boolean): string {
  if (t.k === 'ptr') {
    if (v === null) return showType ? `(${t.goName})<nil>` : '<nil>';
    return (showType ? `(${t.goName})` : '<*>') + formatValue(t.elem, v, false);
  }
  const prefix = showType ? `(${t.goName})` : '';
  switch (t.k) {
    case 'string': return prefix + (v as string);
    case 'int': return prefix + (v as string);
    case 'bool': return prefix + (v ? 'true' : 'false');
    case 'slice': {
      if (v === null) return `${prefix}<nil>`;
      const items = v as GoValue[];
      let out = `${prefix}[`;
      for (let i = 0; i < items.length; i++) {
        if (i > 0) out += ' ';
        out += formatValue(t.elem, items[i]!, false);
      }
      return `${out}]`;
    }
    case 'map': {
      if (v === null) return `${prefix}<nil>`;
      const map = v as Map<string, GoValue>;
      let out = `${prefix}map[`;
      let first = true;
      for (const key of sortedKeys(map)) {
        if (!first) out += ' ';
        first = false;
        out += `${formatValue(t.key, key, false)}:${formatValue(t.elem, map.get(key)!, false)}`;
      }
      return `${out}]`;
    }
    case 'struct': {
      const values = v as GoValue[];
      let out = `${prefix}{`;
      for (let i = 0; i < t.fields.length; i++) {
        const f = t.fields[i]!;
        if (i > 0) out += ' ';
        out += `${f.name}:${formatValue(f.type, values[i]!, true)}`;
      }
      return `${out}}`;
    }
    case 'quantity': return prefix + spewQuantity(v as QuantityValue);
    case 'intstr': {
      const x = v as IntOrStringValue;
      return `${prefix}{Type:(intstr.Type)${x.type} IntVal:(int32)${x.intVal} StrVal:(string)${x.strVal}}`;
    }
  }
}

/**
 * resource.Quantity's unexported fields: `i int64Amount{value int64; scale Scale}`,
 * `d infDecAmount{*inf.Dec}`, `s string`, embedded `Format`. An *inf.Dec is
 * `{unscaled big.Int{neg bool; abs nat}; scale Scale}`, nat being []Word of 64-bit words
 * (amd64), least significant first; zero is a nil nat on every path ParseQuantity takes.
 */
function spewQuantity(q: QuantityValue): string {
  const i = `{value:(int64)${q.i.value} scale:(resource.Scale)${q.i.scale}}`;
  let d = '(*inf.Dec)<nil>';
  if (q.dec) {
    const neg = q.dec.unscaled < 0n;
    d = `(*inf.Dec){unscaled:(big.Int){neg:(bool)${neg} abs:(big.nat)${natWords(neg ? -q.dec.unscaled : q.dec.unscaled)}} scale:(inf.Scale)${q.dec.scale}}`;
  }
  return `{i:(resource.int64Amount)${i} d:(resource.infDecAmount){Dec:${d}} s:(string)${q.s} Format:(resource.Format)${q.format}}`;
}

function natWords(abs: bigint): string {
  if (abs === 0n) return '<nil>';
  const words: string[] = [];
  for (let rest = abs; rest > 0n; rest >>= 64n) words.push(BigInt.asUintN(64, rest).toString());
  return `[${words.join(' ')}]`;
}

/** Keys in Go string order: byte-wise over UTF-8, which is code point order. */
export function sortedKeys(map: Map<string, GoValue>): string[] {
  return [...map.keys()].sort(compareGoStrings);
}

export function compareGoStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.codePointAt(i)!;
    const cb = b.codePointAt(i)!;
    if (ca !== cb) return ca - cb;
    if (ca > 0xffff) i++;
  }
  return a.length - b.length;
}
