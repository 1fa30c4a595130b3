/**
 * Go's encoding/json Marshal of a decoded Go value: struct fields in declaration order with
 * embedded structs flattened, `omitempty` (false, 0, "", nil pointer, empty slice or map; never
 * a struct), map keys sorted, HTML-safe string escaping, and the MarshalJSON methods of
 * resource.Quantity (its string form, quoted) and intstr.IntOrString (the int or the string).
 */
import { quantityString } from './quantity.ts';
import { compareGoStrings } from './spew.ts';
import type { GoStruct, GoType, GoValue, IntOrStringValue, QuantityValue } from './types.ts';

export interface GoJsonOptions {
  /**
   * Go 1.22 changed encoding/json to write `\b` and `\f` instead of `\u0008` and `\u000c`.
   * Kubelets built with Go 1.22 or later (Kubernetes 1.30 onwards) hash those bytes.
   */
  readonly shortControlEscapes: boolean;
}

export function marshal(t: GoType, v: GoValue, options: GoJsonOptions): string {
  switch (t.k) {
    case 'string': return quote(v as string, options);
    case 'int': return v as string;
    case 'bool': return v ? 'true' : 'false';
    case 'ptr': return v === null ? 'null' : marshal(t.elem, v, options);
    case 'slice': {
      if (v === null) return 'null';
      return `[${(v as GoValue[]).map((item) => marshal(t.elem, item, options)).join(',')}]`;
    }
    case 'map': {
      if (v === null) return 'null';
      const map = v as Map<string, GoValue>;
      const keys = [...map.keys()].sort(compareGoStrings);
      return `{${keys.map((k) => `${quote(k, options)}:${marshal(t.elem, map.get(k)!, options)}`).join(',')}}`;
    }
    case 'struct': return marshalStruct(t, v as GoValue[], options);
    case 'quantity': return `"${quantityString(v as QuantityValue)}"`;
    case 'intstr': {
      const x = v as IntOrStringValue;
      return x.type === 0 ? x.intVal : quote(x.strVal, options);
    }
  }
}

function marshalStruct(t: GoStruct, values: GoValue[], options: GoJsonOptions): string {
  const parts: string[] = [];
  for (const ref of t.jsonFields) {
    let value: GoValue = values;
    for (const index of ref.path) value = (value as GoValue[])[index]!;
    if (ref.field.omitempty && isEmptyValue(ref.field.type, value)) continue;
    parts.push(`${quote(ref.json, options)}:${marshal(ref.field.type, value, options)}`);
  }
  return `{${parts.join(',')}}`;
}

function isEmptyValue(t: GoType, v: GoValue): boolean {
  switch (t.k) {
    case 'string': return v === '';
    case 'int': return v === '0';
    case 'bool': return v === false;
    case 'ptr': return v === null;
    case 'slice': return v === null || (v as GoValue[]).length === 0;
    case 'map': return v === null || (v as Map<string, GoValue>).size === 0;
    default: return false;
  }
}

const HEX = '0123456789abcdef';

/** encoding/json's string encoder with escapeHTML = true (json.Marshal's default). */
export function quote(s: string, options: GoJsonOptions): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let esc: string | undefined;
    if (c < 0x20 || c === 0x22 || c === 0x5c || c === 0x3c || c === 0x3e || c === 0x26) {
      switch (c) {
        case 0x22: esc = '\\"'; break;
        case 0x5c: esc = '\\\\'; break;
        case 0x0a: esc = '\\n'; break;
        case 0x0d: esc = '\\r'; break;
        case 0x09: esc = '\\t'; break;
        case 0x08: esc = options.shortControlEscapes ? '\\b' : '\\u0008'; break;
        case 0x0c: esc = options.shortControlEscapes ? '\\f' : '\\u000c'; break;
        default: esc = `\\u00${HEX[c >> 4]}${HEX[c & 0xf]}`;
      }
    } else if (c === 0x2028 || c === 0x2029) {
      esc = c === 0x2028 ? '\\u2028' : '\\u2029';
    } else if (c >= 0xd800 && c < 0xe000) {
      // A lone surrogate cannot come from valid UTF-8; Go writes the replacement character.
      const isPair = c < 0xdc00 && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
      if (isPair) {
        i++;
        continue;
      }
      esc = '\\ufffd';
    }
    if (esc !== undefined) {
      out += s.slice(start, i) + esc;
      start = i + 1;
    }
  }
  return `${out}${s.slice(start)}"`;
}
