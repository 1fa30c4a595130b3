/**
 * Where the lab kubelet's container hashes come from.
 * - engine: kip's own hash engine (lib/knowledge/hash). Quick, any container; but a lab test
 *   then only proves kip agrees with itself.
 * - vectors (the oracle): the golden vectors produced with the real Go code
 *   (test/fixtures/hash-vectors/: containers.json, hashes.json; 30 containers x 1.10-1.30). A
 *   container is looked up by its exact JSON (keys in any order, numbers by their literal text);
 *   a container or version the vectors do not hold is an error, never a guess. The vectors follow
 *   the kubelet's protobuf rule (empty list or map = nil), which is what a kubelet fed by the
 *   apiserver computes; for a static pod (source file, where a literal [] or {} map stays
 *   non-nil and changes the 1.10-1.15 hash) only containers without empty lists or resource maps
 *   can be answered.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KipError } from '../../../lib/errors.ts';
import { hashEngine, hashLabel, parseJson, objectField, type JsonNode } from '../../../lib/knowledge/hash/index.ts';

export type PodSource = 'apiserver' | 'file';
export type HashMode = 'engine' | 'vectors';

export interface ContainerHasher {
  readonly mode: HashMode;
  /** The io.kubernetes.container.hash text this kubelet version writes for the container. */
  hash(container: JsonNode, kubeletVersion: string, source: PodSource): string;
}

export const HASH_VECTORS_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/hash-vectors');

export class OracleMissError extends KipError {
  constructor(message: string, details: Record<string, unknown>) {
    super('LAB_ORACLE_MISS', message, details);
  }
}

/** Canonical text of a JSON value: object keys sorted, numbers and strings as written. */
export function canonicalJson(node: JsonNode): string {
  switch (node.kind) {
    case 'null': return 'null';
    case 'bool': return node.value ? 'true' : 'false';
    case 'number': return node.raw;
    case 'string': return JSON.stringify(node.value);
    case 'array': return `[${node.items.map(canonicalJson).join(',')}]`;
    case 'object': return `{${[...node.entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
}

const minorOf = (version: string): string => /^v?(1\.\d+)/.exec(version)?.[1] ?? version;

/** True when the container holds a literal empty list, or an empty resources map (a static pod's file source could hash it differently). */
export function hasFileSensitiveEmpties(node: JsonNode, key = ''): boolean {
  if (node.kind === 'array') return node.items.length === 0 || node.items.some((n) => hasFileSensitiveEmpties(n));
  if (node.kind === 'object') {
    if (node.entries.length === 0 && (key === 'limits' || key === 'requests')) return true;
    return node.entries.some(([k, v]) => hasFileSensitiveEmpties(v, k));
  }
  return false;
}

export interface HashVector {
  readonly id: string;
  readonly container: JsonNode;
  /** minor ("1.13") -> label text */
  readonly hashes: ReadonlyMap<string, string>;
}

export function loadHashVectors(dir = HASH_VECTORS_DIR): HashVector[] {
  const containers = parseJson(readFileSync(join(dir, 'containers.json'), 'utf8'), 'containers.json');
  const hashes = JSON.parse(readFileSync(join(dir, 'hashes.json'), 'utf8')) as { id: string; kubeVersion: string; hash: string }[];
  if (containers.kind !== 'array') throw new OracleMissError(`${dir}/containers.json is not an array`, { dir });
  return containers.items.map((item) => {
    const idNode = objectField(item, 'id');
    const container = objectField(item, 'container');
    if (idNode?.kind !== 'string' || !container) throw new OracleMissError(`${dir}/containers.json: an entry without id or container`, { dir });
    const id = idNode.value;
    return { id, container, hashes: new Map(hashes.filter((h) => h.id === id).map((h) => [h.kubeVersion, h.hash])) };
  });
}

export function vectorHasher(vectors: readonly HashVector[]): ContainerHasher {
  const byJson = new Map(vectors.map((v) => [canonicalJson(v.container), v]));
  return {
    mode: 'vectors',
    hash(container, kubeletVersion, source) {
      const vector = byJson.get(canonicalJson(container));
      if (!vector) {
        throw new OracleMissError(`hash oracle: container ${JSON.stringify(container.raw.slice(0, 120))} is not one of the ${vectors.length} golden vectors (build lab pods from test/fixtures/hash-vectors/containers.json, verbatim)`, { container: container.raw });
      }
      if (source === 'file' && hasFileSensitiveEmpties(container)) {
        throw new OracleMissError(`hash oracle: vector ${vector.id} holds a literal empty list or map; the vectors give the apiserver (protobuf) hash, not a static pod's`, { id: vector.id });
      }
      const minor = minorOf(kubeletVersion);
      const hash = vector.hashes.get(minor);
      if (hash === undefined) throw new OracleMissError(`hash oracle: no golden hash of vector ${vector.id} for Kubernetes ${minor}`, { id: vector.id, minor });
      return hash;
    },
  };
}

export const engineHasher: ContainerHasher = {
  mode: 'engine',
  hash(container, kubeletVersion, source) {
    const engine = hashEngine(kubeletVersion);
    return hashLabel(engine.hashDecoded(engine.decode(container, { source })));
  },
};
