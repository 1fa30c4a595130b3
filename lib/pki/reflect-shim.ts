/**
 * @peculiar/x509 registers its algorithm providers with tsyringe, which refuses to load unless
 * the Reflect metadata API exists (the "reflect-metadata" package, not a dependency here). This
 * is the part of that API tsyringe and tslib's __metadata use, kept per target and property in
 * WeakMaps. Imported before @peculiar/x509 (ESM evaluates imports in order).
 */
type Key = string | symbol | undefined;
const store = new WeakMap<object, Map<Key, Map<unknown, unknown>>>();

function table(target: object, prop: Key, create: boolean): Map<unknown, unknown> | undefined {
  let byProp = store.get(target);
  if (!byProp && create) store.set(target, (byProp = new Map()));
  let t = byProp?.get(prop);
  if (!t && create && byProp) byProp.set(prop, (t = new Map()));
  return t;
}

function getOwn(key: unknown, target: object, prop?: Key): unknown {
  return table(target, prop, false)?.get(key);
}

function get(key: unknown, target: object, prop?: Key): unknown {
  for (let t: object | null = target; t; t = Object.getPrototypeOf(t) as object | null) {
    const own = table(t, prop, false);
    if (own?.has(key)) return own.get(key);
  }
  return undefined;
}

const api = {
  defineMetadata: (key: unknown, value: unknown, target: object, prop?: Key) => void table(target, prop, true)?.set(key, value),
  getOwnMetadata: getOwn,
  getMetadata: get,
  hasOwnMetadata: (key: unknown, target: object, prop?: Key) => table(target, prop, false)?.has(key) ?? false,
  hasMetadata: (key: unknown, target: object, prop?: Key) => get(key, target, prop) !== undefined,
  metadata: (key: unknown, value: unknown) => (target: object, prop?: Key) => void table(target, prop, true)?.set(key, value),
};

const R = Reflect as unknown as Record<string, unknown>;
for (const [name, fn] of Object.entries(api)) if (typeof R[name] !== 'function') R[name] = fn;
