/**
 * Go type descriptors, compiled from a schema file. `goName` is what Go's reflect
 * `Type.String()` returns, which go-spew prints in front of values.
 */
export type GoType =
  | { readonly k: 'string'; readonly goName: string }
  | { readonly k: 'bool'; readonly goName: string }
  | { readonly k: 'int'; readonly bits: 32 | 64; readonly goName: string }
  | { readonly k: 'ptr'; readonly goName: string; readonly elem: GoType }
  | { readonly k: 'slice'; readonly goName: string; readonly elem: GoType }
  | { readonly k: 'map'; readonly goName: string; readonly key: GoType; readonly elem: GoType }
  | GoStruct
  | { readonly k: 'quantity'; readonly goName: 'resource.Quantity' }
  | { readonly k: 'intstr'; readonly goName: 'intstr.IntOrString' };

export interface GoField {
  readonly name: string;
  readonly json: string;
  readonly omitempty: boolean;
  readonly embedded: boolean;
  readonly type: GoType;
}

export interface GoStruct {
  readonly k: 'struct';
  readonly goName: string;
  /** Filled in after construction so recursive types can refer to themselves. */
  fields: GoField[];
  /** JSON object key -> path of field indexes (embedded structs flattened as encoding/json does). */
  jsonFields: JsonFieldRef[];
  jsonByName: Map<string, JsonFieldRef>;
}

export interface JsonFieldRef {
  readonly json: string;
  readonly path: readonly number[];
  readonly field: GoField;
}

/**
 * A decoded Go value. The Go type always travels beside it, so the representation is minimal:
 * string kinds are JS strings, ints are their canonical decimal text (int64 exceeds 2^53),
 * bool is boolean, a nil pointer/slice/map is null, a non-nil pointer is its pointee, a slice is
 * an array, a struct is the array of its field values, a map is a Map with insertion order.
 */
export type GoValue = string | boolean | null | GoValue[] | Map<string, GoValue> | QuantityValue | IntOrStringValue;

/** k8s.io/apimachinery resource.Quantity, with its unexported fields as ParseQuantity leaves them. */
export interface QuantityValue {
  readonly q: true;
  /** int64Amount: value and scale (used when dec is null). */
  readonly i: { readonly value: bigint; readonly scale: number };
  /** infDecAmount's *inf.Dec: signed unscaled value and scale; null for a nil pointer. */
  readonly dec: { readonly unscaled: bigint; readonly scale: number } | null;
  /** The cached string, set by ParseQuantity only for some input forms. */
  readonly s: string;
  readonly format: '' | 'DecimalExponent' | 'BinarySI' | 'DecimalSI';
}

/** k8s.io/apimachinery intstr.IntOrString. */
export interface IntOrStringValue {
  readonly intstr: true;
  readonly type: 0 | 1;
  readonly intVal: string;
  readonly strVal: string;
}
