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
  return compiledPrinter(t, true)(v);
}

type Printer = (v: GoValue) => string;

const typedPrinters = new WeakMap<GoType, Printer>();
const untypedPrinters = new WeakMap<GoType, Printer>();

/**
 * A printer specialised for one Go type, built once per type: constant text (field names,
 * type names, nil renderings) is precomputed, so printing only joins values.
 */
export function compiledPrinter(t: GoType, showType: boolean): Printer {
  const cache = showType ? typedPrinters : untypedPrinters;
  let printer = cache.get(t);
  if (!printer) {
    // Placeholder first: a recursive type refers to its own printer through the cache.
    let built: Printer | undefined;
    cache.set(t, (v) => built!(v));
    built = buildPrinter(t, showType);
    cache.set(t, built);
    printer = built;
  }
  return printer;
}

function buildPrinter(t: GoType, showType: boolean): Printer {
  if (t.k === 'ptr') {
    const nilText = showType ? `(${t.goName})<nil>` : '<nil>';
    const prefix = showType ? `(${t.goName})` : '<*>';
    const elem = compiledPrinter(t.elem, false);
    return (v) => (v === null ? nilText : prefix + elem(v));
  }
  const prefix = showType ? `(${t.goName})` : '';
  switch (t.k) {
    case 'string':
    case 'int':
      return prefix === '' ? (v) => v as string : (v) => prefix + (v as string);
    case 'bool': {
      const yes = `${prefix}true`;
      const no = `${prefix}false`;
      return (v) => (v ? yes : no);
    }
    case 'slice': {
      const nilText = `${prefix}<nil>`;
      const open = `${prefix}[`;
      const elem = compiledPrinter(t.elem, false);
      return (v) => {
        if (v === null) return nilText;
        const items = v as GoValue[];
        let out = open;
        for (let i = 0; i < items.length; i++) out += (i > 0 ? ' ' : '') + elem(items[i]!);
        return `${out}]`;
      };
    }
    case 'map': {
      const nilText = `${prefix}<nil>`;
      const open = `${prefix}map[`;
      const key = compiledPrinter(t.key, false);
      const elem = compiledPrinter(t.elem, false);
      return (v) => {
        if (v === null) return nilText;
        const map = v as Map<string, GoValue>;
        let out = open;
        let first = true;
        for (const k of sortedKeys(map)) {
          out += `${first ? '' : ' '}${key(k)}:${elem(map.get(k)!)}`;
          first = false;
        }
        return `${out}]`;
      };
    }
    case 'struct': {
      const labels = t.fields.map((f, i) => `${i > 0 ? ' ' : ''}${f.name}:`);
      const open = `${prefix}{`;
      const printers = t.fields.map((f) => compiledPrinter(f.type, true));
      return (v) => {
        const values = v as GoValue[];
        let out = open;
        for (let i = 0; i < printers.length; i++) out += labels[i]! + printers[i]!(values[i]!);
        return `${out}}`;
      };
    }
    case 'quantity':
      return (v) => prefix + spewQuantity(v as QuantityValue);
    case 'intstr':
      return (v) => {
        const x = v as IntOrStringValue;
        return `${prefix}{Type:(intstr.Type)${x.type} IntVal:(int32)${x.intVal} StrVal:(string)${x.strVal}}`;
      };
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
