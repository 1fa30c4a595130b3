/**
 * The kubelet's container hash, per Kubernetes minor version, bit for bit. Pure: no I/O
 * beyond loading the bundled schema files once.
 */
import { ContainerDecodeError, UnrecognizedInputError } from './errors.ts';
import { decodeContainer, type DecodeOptions } from './decode.ts';
import { fnv1a32, fnv1a32OfSpewedBytes } from './fnv.ts';
import { marshal, quote } from './gojson.ts';
import { objectField, parseJson, stringField, type JsonNode } from './json.ts';
import { compileSchema, loadSchemaFile } from './schema.ts';
import { spew } from './spew.ts';
import type { GoStruct, GoValue } from './types.ts';
import { algorithmFor, normalizeKubeVersion, supportedVersions, usesGo122Json, type HashAlgorithm } from './versions.ts';

export { supportedVersions, normalizeKubeVersion, algorithmFor };
export { objectField, parseJson, stringField } from './json.ts';
export type { JsonNode } from './json.ts';
export * from './errors.ts';

export interface HashEngine {
  readonly kubeVersion: string;
  readonly algorithm: HashAlgorithm;
  readonly root: GoStruct;
  /** Decodes container JSON as this version's kubelet would. */
  decode(node: JsonNode, options?: DecodeOptions): GoValue[];
  /** Hashes a decoded container of this version. */
  hashDecoded(container: GoValue[]): number;
  /** The exact bytes hashed, as text (for diffing against Go; not on the hot path). */
  hashInput(container: GoValue[]): string;
}

const engines = new Map<string, HashEngine>();

export function hashEngine(kubeVersion: string): HashEngine {
  const minor = normalizeKubeVersion(kubeVersion);
  let engine = engines.get(minor);
  if (!engine) {
    engine = buildEngine(minor);
    engines.set(minor, engine);
  }
  return engine;
}

function buildEngine(minor: string): HashEngine {
  const root = compileSchema(loadSchemaFile(minor));
  const algorithm = algorithmFor(minor);
  const jsonOptions = { shortControlEscapes: usesGo122Json(minor) };
  const nameIndex = root.fields.findIndex((f) => f.name === 'Name');
  const imageIndex = root.fields.findIndex((f) => f.name === 'Image');
  const jsonOf = (c: GoValue[]): string => {
    if (algorithm === 'spew-json') return marshal(root, c, jsonOptions);
    // json.Marshal(map[string]string{"name": ..., "image": ...}): keys sorted.
    return `{"image":${quote(c[imageIndex] as string, jsonOptions)},"name":${quote(c[nameIndex] as string, jsonOptions)}}`;
  };
  return {
    kubeVersion: minor,
    algorithm,
    root,
    decode: (node, options) => decodeContainer(node, root, options),
    hashDecoded: algorithm === 'spew-struct' ? (c) => fnv1a32(spew(root, c)) : (c) => fnv1a32OfSpewedBytes(jsonOf(c)),
    hashInput: algorithm === 'spew-struct'
      ? (c) => spew(root, c)
      : (c) => `([]uint8)[${[...Buffer.from(jsonOf(c), 'utf8')].join(' ')}]`,
  };
}

/** The label text the kubelet writes: strconv.FormatUint(hash, 16). */
export function hashLabel(hash: number): string {
  return hash.toString(16);
}

export interface ContainerHash {
  readonly kubeVersion: string;
  readonly hash: number;
  /** As in the io.kubernetes.container.hash label: lowercase hex, no padding. */
  readonly label: string;
}

/**
 * Hashes one container. Pass the JSON text (or a parsed JsonNode) to keep int64 values beyond
 * 2^53 exact; a plain object is accepted for convenience and re-serialized.
 */
export function containerHash(container: string | JsonNode | object, kubeVersion: string, options?: DecodeOptions): ContainerHash {
  const engine = hashEngine(kubeVersion);
  const node = toNode(container);
  const hash = engine.hashDecoded(engine.decode(node, options));
  return { kubeVersion: engine.kubeVersion, hash, label: hashLabel(hash) };
}

function toNode(input: string | JsonNode | object): JsonNode {
  if (typeof input === 'string') return parseJson(input);
  if (isJsonNode(input)) return input;
  return parseJson(JSON.stringify(input));
}

function isJsonNode(x: object): x is JsonNode {
  return 'kind' in x && 'raw' in x && 'start' in x && typeof (x as { raw: unknown }).raw === 'string';
}

export interface ContainerRef {
  /** "namespace/name" of the pod, or null for a bare container. */
  readonly pod: string | null;
  /** metadata.uid of the pod, or null (a bare container, or a pod without one). */
  readonly podUid: string | null;
  readonly container: string;
  readonly init: boolean;
  readonly node: JsonNode;
  /** Where the container sits in the input, for error messages. */
  readonly path: string;
}

/**
 * Finds the containers in one container object, an array of containers, a Pod, a PodList
 * (`kubectl get pods -o json`, kind PodList or List) or an array of Pods.
 */
export function collectContainers(root: JsonNode): ContainerRef[] {
  const out: ContainerRef[] = [];
  if (root.kind === 'array') {
    root.items.forEach((item, i) => {
      if (isPod(item)) addPod(item, `[${i}]`, out);
      else out.push(bareContainer(item, `[${i}]`));
    });
    return out;
  }
  if (root.kind !== 'object') throw new UnrecognizedInputError(`expected a container, a list of containers, a Pod or a PodList, found ${root.kind}`);
  const kind = stringField(root, 'kind');
  const items = objectField(root, 'items');
  if (kind === 'PodList' || (kind === 'List' && items) || (!kind && items?.kind === 'array')) {
    if (!items || items.kind !== 'array') throw new UnrecognizedInputError(`${kind ?? 'list'} has no "items" array`);
    items.items.forEach((item, i) => {
      if (!isPod(item)) throw new UnrecognizedInputError(`items[${i}] is not a Pod (kind ${stringField(item, 'kind') ?? 'missing'}, no spec.containers)`);
      addPod(item, `items[${i}]`, out);
    });
    return out;
  }
  if (isPod(root)) {
    addPod(root, '', out);
    return out;
  }
  if (kind && kind !== 'Container') throw new UnrecognizedInputError(`objects of kind ${kind} hold no containers kip can hash (give a Pod, a PodList or containers)`);
  out.push(bareContainer(root, ''));
  return out;
}

function bareContainer(node: JsonNode, path: string): ContainerRef {
  if (node.kind !== 'object') throw new ContainerDecodeError(path, `expected a container object, found ${node.kind}`);
  return { pod: null, podUid: null, container: stringField(node, 'name') ?? '', init: false, node, path };
}

function isPod(node: JsonNode): boolean {
  if (node.kind !== 'object') return false;
  if (stringField(node, 'kind') === 'Pod') return true;
  const spec = objectField(node, 'spec');
  return spec?.kind === 'object' && objectField(spec, 'containers') !== undefined;
}

function addPod(pod: JsonNode, path: string, out: ContainerRef[]): void {
  const meta = objectField(pod, 'metadata');
  const name = (meta && stringField(meta, 'name')) ?? '';
  const namespace = (meta && stringField(meta, 'namespace')) ?? 'default';
  const podUid = (meta && stringField(meta, 'uid')) ?? null;
  const spec = objectField(pod, 'spec');
  const prefix = path ? `${path}.` : '';
  if (!spec || spec.kind !== 'object') throw new ContainerDecodeError(`${prefix}spec`, 'a Pod needs a spec object');
  for (const [key, init] of [['initContainers', true], ['containers', false]] as const) {
    const list = objectField(spec, key);
    if (!list || list.kind === 'null') continue;
    if (list.kind !== 'array') throw new ContainerDecodeError(`${prefix}spec.${key}`, `expected array, found ${list.kind}`);
    list.items.forEach((c, i) => {
      const p = `${prefix}spec.${key}[${i}]`;
      const ref = bareContainer(c, p);
      out.push({ ...ref, pod: `${namespace}/${name}`, podUid, init });
    });
  }
}

export interface HashedContainer {
  readonly pod: string | null;
  readonly container: string;
  readonly init: boolean;
  readonly kubeVersion: string;
  readonly hash: string;
}

/** Hashes every container found in the input for one version; errors name the container's path. */
export function hashAll(root: JsonNode, kubeVersion: string, options?: DecodeOptions): HashedContainer[] {
  const engine = hashEngine(kubeVersion);
  return collectContainers(root).map((ref) => ({
    pod: ref.pod,
    container: ref.container,
    init: ref.init,
    kubeVersion: engine.kubeVersion,
    hash: hashLabel(engine.hashDecoded(decodeAt(engine, ref, options))),
  }));
}

export function decodeAt(engine: HashEngine, ref: ContainerRef, options?: DecodeOptions): GoValue[] {
  try {
    return engine.decode(ref.node, options);
  } catch (err) {
    if (err instanceof ContainerDecodeError && ref.path) {
      throw new ContainerDecodeError(err.path ? `${ref.path}.${err.path}` : ref.path, err.problem);
    }
    throw err;
  }
}
