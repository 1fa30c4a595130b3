/**
 * Label and field selectors with the grammar and meaning of k8s.io/apimachinery labels/fields
 * (written here from the documented syntax: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`,
 * `a`, `!a`; field selectors support `=`, `==`, `!=` on a per-resource set of field labels).
 */
import { errors } from './status.ts';
import { at, isObject, type JsonObject } from './json.ts';
import type { ResourceDef } from './resources.ts';

type LabelOp = 'eq' | 'neq' | 'in' | 'notin' | 'exists' | '!exists';
export interface LabelRequirement {
  readonly key: string;
  readonly op: LabelOp;
  readonly values: readonly string[];
}

function splitTopLevel(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

const KEY = /^[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?$/;

export function parseLabelSelector(selector: string): LabelRequirement[] {
  const reqs: LabelRequirement[] = [];
  for (const part of splitTopLevel(selector)) {
    let m: RegExpExecArray | null;
    if ((m = /^!\s*(\S+)$/.exec(part))) reqs.push({ key: m[1] ?? '', op: '!exists', values: [] });
    else if ((m = /^(\S+?)\s+(in|notin)\s*\(([^)]*)\)$/.exec(part))) {
      const values = (m[3] ?? '').split(',').map((v) => v.trim());
      reqs.push({ key: m[1] ?? '', op: m[2] === 'in' ? 'in' : 'notin', values });
    } else if ((m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(part))) {
      reqs.push({ key: m[1] ?? '', op: m[2] === '!=' ? 'neq' : 'eq', values: [m[3] ?? ''] });
    } else if ((m = /^([^=!\s()]+)$/.exec(part))) reqs.push({ key: m[1] ?? '', op: 'exists', values: [] });
    else throw errors.badRequest(`unable to parse requirement: ${part}`);
  }
  for (const r of reqs) if (!KEY.test(r.key)) throw errors.badRequest(`invalid label key "${r.key}"`);
  return reqs;
}

export function labelsMatch(reqs: readonly LabelRequirement[], labels: Readonly<Record<string, string>>): boolean {
  return reqs.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    const v = labels[r.key];
    switch (r.op) {
      case 'exists':
        return has;
      case '!exists':
        return !has;
      case 'eq':
        return has && v === r.values[0];
      case 'neq':
        return !has || v !== r.values[0];
      case 'in':
        return has && v !== undefined && r.values.includes(v);
      case 'notin':
        return !has || v === undefined || !r.values.includes(v);
    }
  });
}

export interface FieldRequirement {
  readonly field: string;
  readonly negate: boolean;
  readonly value: string;
}

function unescapeField(v: string): string {
  return v.replace(/\\(.)/g, '$1');
}

export function parseFieldSelector(selector: string, resource: ResourceDef): FieldRequirement[] {
  const supported = new Set(['metadata.name', 'metadata.namespace', ...resource.fields]);
  const out: FieldRequirement[] = [];
  for (const part of selector.split(/(?<!\\),/).map((p) => p.trim()).filter(Boolean)) {
    const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (!m) throw errors.badRequest(`invalid field selector: ${part}`);
    const field = (m[1] ?? '').trim();
    if (!supported.has(field)) throw errors.badRequest(`"${field}" is not a known field selector: only "${[...supported].join('", "')}"`);
    out.push({ field, negate: m[2] === '!=', value: unescapeField(m[3] ?? '') });
  }
  return out;
}

/** The string a field label has on an object (absent fields are ""; booleans as "true"/"false"). */
export function fieldValue(obj: JsonObject, field: string): string {
  if (field === 'source') {
    const src = obj.source;
    return isObject(src) && typeof src.component === 'string' ? src.component : '';
  }
  const v = at(obj, field);
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean' || typeof v === 'number') return String(v);
  return field === 'spec.unschedulable' ? 'false' : '';
}

export function fieldsMatch(reqs: readonly FieldRequirement[], obj: JsonObject): boolean {
  return reqs.every((r) => (fieldValue(obj, r.field) === r.value) !== r.negate);
}
