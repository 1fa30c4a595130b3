/**
 * Decodes container JSON into a Go value of one Kubernetes version's v1.Container, with the
 * semantics of Go's encoding/json as the kubelet uses it: unknown fields dropped, absent fields
 * zero, object keys matched exactly first and then case-insensitively, `null` resets pointers,
 * slices and maps and leaves other kinds alone, a repeated key decodes into what is already
 * there (structs and maps merge, slices are replaced). Where Go would refuse the input, this
 * throws a ContainerDecodeError naming the path.
 */
import { ContainerDecodeError } from './errors.ts';
import type { JsonNode } from './json.ts';
import { QuantityParseError, ZERO_QUANTITY, goParseInt64, parseQuantity } from './quantity.ts';
import type { GoStruct, GoType, GoValue, IntOrStringValue, JsonFieldRef, QuantityValue } from './types.ts';

export interface DecodeOptions {
  /**
   * 'apiserver' (default): the kubelet received the pod as protobuf, which cannot tell an empty
   * list or map from an absent one, so `[]` and `{}` decode as nil. 'file': a static pod read
   * from a manifest, where a literal empty list stays an empty, non-nil list.
   */
  readonly source?: 'apiserver' | 'file';
}

const INT32_MIN = -(2n ** 31n);
const INT32_MAX = 2n ** 31n - 1n;

export function zeroValue(t: GoType): GoValue {
  switch (t.k) {
    case 'string': return '';
    case 'bool': return false;
    case 'int': return '0';
    case 'ptr': case 'slice': case 'map': return null;
    case 'struct': return t.fields.map((f) => zeroValue(f.type));
    case 'quantity': return ZERO_QUANTITY;
    case 'intstr': return { intstr: true, type: 0, intVal: '0', strVal: '' };
  }
}

const KIND_NAMES: Record<JsonNode['kind'], string> = {
  null: 'null', bool: 'a boolean', number: 'a number', string: 'a string', array: 'an array', object: 'an object',
};

export function decodeValue(node: JsonNode, t: GoType, path: string, current: GoValue, options: DecodeOptions): GoValue {
  const keepEmpty = options.source === 'file';
  const mismatch = (expected: string): never => {
    throw new ContainerDecodeError(path, `expected ${expected}, found ${KIND_NAMES[node.kind]}`);
  };

  switch (t.k) {
    case 'string':
      if (node.kind === 'null') return current;
      if (node.kind !== 'string') return mismatch('string');
      return node.value;
    case 'bool':
      if (node.kind === 'null') return current;
      if (node.kind !== 'bool') return mismatch('boolean');
      return node.value;
    case 'int': {
      if (node.kind === 'null') return current;
      if (node.kind !== 'number') return mismatch('integer');
      const v = goParseInt64(node.raw);
      if (v === undefined) throw new ContainerDecodeError(path, `expected integer, found number ${node.raw}`);
      if (t.bits === 32 && (v < INT32_MIN || v > INT32_MAX)) {
        throw new ContainerDecodeError(path, `number ${node.raw} overflows int32`);
      }
      return v.toString();
    }
    case 'ptr': {
      if (node.kind === 'null') return null;
      const existing = current === null ? zeroValue(t.elem) : current;
      return decodeValue(node, t.elem, path, existing, options);
    }
    case 'slice': {
      if (node.kind === 'null') return null;
      if (node.kind !== 'array') return mismatch('array');
      if (node.items.length === 0 && !keepEmpty) return null;
      // Go reuses the old backing array's elements when decoding into an existing slice.
      const old = Array.isArray(current) ? current : [];
      return node.items.map((item, i) => decodeValue(item, t.elem, `${path}[${i}]`, i < old.length ? old[i]! : zeroValue(t.elem), options));
    }
    case 'map': {
      if (node.kind === 'null') return null;
      if (node.kind !== 'object') return mismatch('object');
      const map = current instanceof Map ? current : new Map<string, GoValue>();
      for (const [key, value] of node.entries) {
        // A map element is decoded into a fresh zero value, then stored.
        map.set(key, decodeValue(value, t.elem, `${path}[${JSON.stringify(key)}]`, zeroValue(t.elem), options));
      }
      if (map.size === 0 && !keepEmpty) return null;
      return map;
    }
    case 'struct': {
      if (node.kind === 'null') return current;
      if (node.kind !== 'object') return mismatch('object');
      const fields = (Array.isArray(current) ? current : zeroValue(t)) as GoValue[];
      for (const [key, value] of node.entries) {
        const ref = lookupField(t, key);
        if (!ref) continue;
        setAtPath(fields, ref.path, (old) => decodeValue(value, ref.field.type, path ? `${path}.${key}` : key, old, options));
      }
      return fields;
    }
    case 'quantity': {
      // Quantity.UnmarshalJSON receives the raw bytes: quotes are stripped, escapes are not decoded.
      if (node.kind === 'null') {
        // UnmarshalJSON("null") clears the amounts but keeps the cached string and format.
        const old = current as QuantityValue;
        return { q: true, i: { value: 0n, scale: 0 }, dec: null, s: old.s, format: old.format };
      }
      let raw = node.raw;
      if (raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"')) raw = raw.slice(1, -1);
      try {
        return parseQuantity(goTrimSpace(raw));
      } catch (err) {
        if (err instanceof QuantityParseError) {
          throw new ContainerDecodeError(path, `unparsable quantity ${JSON.stringify(raw)}: ${err.message}`);
        }
        throw err;
      }
    }
    case 'intstr': {
      const old = current as IntOrStringValue;
      if (node.kind === 'string') return { intstr: true, type: 1, intVal: old.intVal, strVal: node.value };
      if (node.kind === 'null') return { intstr: true, type: 0, intVal: old.intVal, strVal: old.strVal };
      if (node.kind !== 'number') return mismatch('integer or string');
      const intVal = decodeValue(node, { k: 'int', bits: 32, goName: 'int32' }, path, old.intVal, options) as string;
      return { intstr: true, type: 0, intVal, strVal: old.strVal };
    }
  }
}

function setAtPath(fields: GoValue[], path: readonly number[], update: (old: GoValue) => GoValue): void {
  let target = fields;
  for (let i = 0; i < path.length - 1; i++) target = target[path[i]!] as GoValue[];
  const last = path[path.length - 1]!;
  target[last] = update(target[last]!);
}

function lookupField(t: GoStruct, key: string): JsonFieldRef | undefined {
  const exact = t.jsonByName.get(key);
  if (exact) return exact;
  const folded = foldKey(key);
  return t.jsonFields.find((f) => foldKey(f.json) === folded);
}

/** Approximates Go's bytes.EqualFold: simple case folding, including the Kelvin sign and long s. */
function foldKey(s: string): string {
  return s.toLowerCase().replace(/\u212a/g, 'k').replace(/\u017f/g, 's');
}

/** strings.TrimSpace: Unicode white space as Go defines it. */
function goTrimSpace(s: string): string {
  return s.replace(/^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g, '');
}

export function decodeContainer(node: JsonNode, root: GoStruct, options: DecodeOptions = {}): GoValue[] {
  if (node.kind !== 'object') throw new ContainerDecodeError('', `expected a container object, found ${KIND_NAMES[node.kind]}`);
  return decodeValue(node, root, '', zeroValue(root), options) as GoValue[];
}
