// Golden vectors produced with the real Go code (see test/fixtures/hash-vectors/README.md, a copy
// of shared/vectors): 30 containers x 21 Kubernetes minors, plus the exact bytes hashed for three.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashEngine, objectField, parseJson, stringField, type JsonNode } from '../../lib/knowledge/hash/index.ts';

const dir = join(import.meta.dirname, '../fixtures/hash-vectors');
const containersRoot = parseJson(readFileSync(join(dir, 'containers.json'), 'utf8'));
const hashes = JSON.parse(readFileSync(join(dir, 'hashes.json'), 'utf8')) as { id: string; kubeVersion: string; hash: string }[];

function containerNodes(): Map<string, JsonNode> {
  const out = new Map<string, JsonNode>();
  if (containersRoot.kind !== 'array') throw new Error('containers.json is not an array');
  for (const item of containersRoot.items) {
    if (item.kind !== 'object') throw new Error('vector is not an object');
    const id = stringField(item, 'id');
    const container = objectField(item, 'container');
    if (id === undefined || !container) throw new Error('vector without id or container');
    out.set(id, container);
  }
  return out;
}
const containers = containerNodes();

describe('shared golden vectors', () => {
  it('covers 30 containers x 21 versions', () => {
    expect(containers.size).toBe(30);
    expect(hashes).toHaveLength(630);
  });

  it.each(hashes.map((h) => [h.id, h.kubeVersion, h.hash] as const))('%s at %s hashes to %s', (id, version, want) => {
    const engine = hashEngine(version);
    const node = containers.get(id);
    expect(node).toBeDefined();
    expect(engine.hashDecoded(engine.decode(node!)).toString(16)).toBe(want);
  });

  const spewFiles = ['minimal', 'probe-http', 'res-basic'].flatMap((id) => ['1.10', '1.14', '1.17'].map((v) => [id, v] as const));
  it.each(spewFiles)('the bytes hashed for %s at %s equal Go\'s', (id, version) => {
    const engine = hashEngine(version);
    const want = readFileSync(join(dir, `spew-${id}-${version}.txt`), 'utf8');
    expect(engine.hashInput(engine.decode(containers.get(id)!))).toBe(want);
  });
});
