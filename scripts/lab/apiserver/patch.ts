/**
 * The three PATCH content types the apiserver accepts, written from their specifications:
 * - application/merge-patch+json: RFC 7386 (objects merge, null deletes, everything else replaces).
 * - application/json-patch+json: RFC 6902 (add, remove, replace, move, copy, test; RFC 6901 pointers).
 * - application/strategic-merge-patch+json: Kubernetes' strategic merge. Lists whose Go field carries
 *   `patchStrategy:"merge"` merge by their `patchMergeKey` (values from k8s.io/api core/v1 types.go,
 *   e.g. NodeSpec.Taints merge on "key", PodStatus/NodeStatus.Conditions on "type",
 *   PodSpec.Containers on "name"); other lists replace. Directives: `$patch: replace|delete` (maps and
 *   list items), `$deleteFromPrimitiveList/<field>`; `$setElementOrder/<field>` and `$retainKeys` are
 *   accepted and ignored (ordering hints only here).
 */
import { errors } from './status.ts';
import { clone, isObject, type Json, type JsonObject } from './json.ts';

export type PatchType = 'merge' | 'json' | 'strategic';

export function patchTypeOf(contentType: string | undefined): PatchType | undefined {
  const base = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (base === 'application/merge-patch+json') return 'merge';
  if (base === 'application/json-patch+json') return 'json';
  if (base === 'application/strategic-merge-patch+json') return 'strategic';
  return undefined;
}

export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  const out: JsonObject = isObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k] ?? null, v);
  }
  return out;
}

function decodePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw errors.badRequest(`invalid JSON pointer: ${pointer}`);
  return pointer.slice(1).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(doc: Json, tokens: readonly string[], pointer: string): { parent: Json; last: string } {
  let cur: Json = doc;
  for (const t of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[Number(t)] ?? null;
    else if (isObject(cur) && Object.prototype.hasOwnProperty.call(cur, t)) cur = cur[t] ?? null;
    else throw errors.invalid('Patch', '', `path ${pointer} does not exist`);
  }
  const last = tokens[tokens.length - 1];
  if (last === undefined) throw errors.badRequest('cannot operate on the document root');
  return { parent: cur, last };
}

function getAt(doc: Json, pointer: string): Json {
  let cur: Json = doc;
  for (const t of decodePointer(pointer)) {
    if (Array.isArray(cur) && /^\d+$/.test(t) && Number(t) < cur.length) cur = cur[Number(t)] ?? null;
    else if (isObject(cur) && Object.prototype.hasOwnProperty.call(cur, t)) cur = cur[t] ?? null;
    else throw errors.invalid('Patch', '', `path ${pointer} does not exist`);
  }
  return cur;
}

function addAt(doc: Json, pointer: string, value: Json): Json {
  const tokens = decodePointer(pointer);
  if (tokens.length === 0) return value;
  const { parent, last } = parentOf(doc, tokens, pointer);
  if (Array.isArray(parent)) {
    const idx = last === '-' ? parent.length : Number(last);
    if (!Number.isInteger(idx) || idx < 0 || idx > parent.length) throw errors.invalid('Patch', '', `index out of range in ${pointer}`);
    parent.splice(idx, 0, value);
  } else if (isObject(parent)) parent[last] = value;
  else throw errors.invalid('Patch', '', `cannot add at ${pointer}`);
  return doc;
}

function removeAt(doc: Json, pointer: string): Json {
  const tokens = decodePointer(pointer);
  const { parent, last } = parentOf(doc, tokens, pointer);
  if (Array.isArray(parent)) {
    const idx = Number(last);
    if (!Number.isInteger(idx) || idx < 0 || idx >= parent.length) throw errors.invalid('Patch', '', `index out of range in ${pointer}`);
    parent.splice(idx, 1);
  } else if (isObject(parent) && Object.prototype.hasOwnProperty.call(parent, last)) delete parent[last];
  else throw errors.invalid('Patch', '', `path ${pointer} does not exist`);
  return doc;
}

export function jsonPatch(target: Json, ops: Json): Json {
  if (!Array.isArray(ops)) throw errors.badRequest('a JSON patch must be an array of operations');
  let doc = clone(target);
  for (const op of ops) {
    if (!isObject(op) || typeof op.op !== 'string' || typeof op.path !== 'string') throw errors.badRequest('invalid JSON patch operation');
    const path = op.path;
    const from = typeof op.from === 'string' ? op.from : undefined;
    switch (op.op) {
      case 'add':
        doc = addAt(doc, path, clone(op.value ?? null));
        break;
      case 'remove':
        doc = removeAt(doc, path);
        break;
      case 'replace':
        getAt(doc, path);
        doc = addAt(removeAt(doc, path), path, clone(op.value ?? null));
        break;
      case 'move': {
        if (from === undefined) throw errors.badRequest('move needs "from"');
        const v = getAt(doc, from);
        doc = addAt(removeAt(doc, from), path, v);
        break;
      }
      case 'copy': {
        if (from === undefined) throw errors.badRequest('copy needs "from"');
        doc = addAt(doc, path, clone(getAt(doc, from)));
        break;
      }
      case 'test':
        if (JSON.stringify(getAt(doc, path)) !== JSON.stringify(op.value ?? null)) throw errors.invalid('Patch', '', `test failed at ${path}`);
        break;
      default:
        throw errors.badRequest(`unknown JSON patch op ${op.op}`);
    }
  }
  return doc;
}

/** patchMergeKey of the list-valued fields with patchStrategy "merge" in the types the lab serves. */
const MERGE_KEYS: Readonly<Record<string, string>> = {
  taints: 'key',
  conditions: 'type',
  addresses: 'type',
  containers: 'name',
  initContainers: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  env: 'name',
  ports: 'containerPort',
  imagePullSecrets: 'name',
  ownerReferences: 'uid',
};

function mergeList(field: string, target: Json | undefined, patch: Json[]): Json {
  const key = MERGE_KEYS[field];
  const replace = patch.some((p) => isObject(p) && p.$patch === 'replace');
  if (key === undefined || replace) return clone(patch.filter((p) => !(isObject(p) && p.$patch !== undefined && Object.keys(p).length === 1)));
  const out: Json[] = Array.isArray(target) ? clone(target) : [];
  for (const item of patch) {
    if (!isObject(item)) {
      out.push(clone(item));
      continue;
    }
    const id = item[key];
    const idx = out.findIndex((t) => isObject(t) && JSON.stringify(t[key]) === JSON.stringify(id));
    if (item.$patch === 'delete') {
      if (idx >= 0) out.splice(idx, 1);
      continue;
    }
    if (idx >= 0) out[idx] = strategicMerge(out[idx] ?? null, item);
    else out.push(strategicMerge(null, item));
  }
  return out;
}

export function strategicMerge(target: Json, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  if (patch.$patch === 'delete') return null;
  const base: JsonObject = isObject(target) && patch.$patch !== 'replace' ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$patch' || k === '$retainKeys' || k.startsWith('$setElementOrder/')) continue;
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const field = k.slice('$deleteFromPrimitiveList/'.length);
      const list = base[field];
      if (Array.isArray(list) && Array.isArray(v)) base[field] = list.filter((x) => !v.some((d) => JSON.stringify(d) === JSON.stringify(x)));
      continue;
    }
    if (v === null) delete base[k];
    else if (Array.isArray(v)) base[k] = mergeList(k, base[k], v);
    else if (isObject(v)) {
      const merged = strategicMerge(base[k] ?? null, v);
      if (merged === null) delete base[k];
      else base[k] = merged;
    } else base[k] = v;
  }
  return base;
}

export function applyPatch(type: PatchType, target: JsonObject, patch: Json): Json {
  switch (type) {
    case 'merge':
      return mergePatch(target, patch);
    case 'json':
      return jsonPatch(target, patch);
    case 'strategic':
      return strategicMerge(target, patch);
  }
}
