import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseJson } from '../../lib/knowledge/hash/index.ts';
import { HASH_VECTORS_DIR, OracleMissError, canonicalJson, loadHashVectors, vectorHasher } from '../../scripts/lab/kubelet/hashes.ts';

const vectors = loadHashVectors();
const oracle = vectorHasher(vectors);
const table = JSON.parse(readFileSync(join(HASH_VECTORS_DIR, 'hashes.json'), 'utf8')) as { id: string; kubeVersion: string; hash: string }[];

describe('the lab kubelet hash oracle (golden vectors from the real Go code)', () => {
  it('answers every container x version of the table with the table\'s hash', () => {
    expect(vectors).toHaveLength(30);
    for (const row of table) {
      const v = vectors.find((x) => x.id === row.id)!;
      expect(oracle.hash(v.container, `v${row.kubeVersion}.0`, 'apiserver'), `${row.id} ${row.kubeVersion}`).toBe(row.hash);
    }
  });

  it('finds a container whatever the order of its keys, as served by an apiserver', () => {
    const v = vectors.find((x) => x.id === 'res-basic')!;
    const reordered = JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(v.container.raw) as Record<string, unknown>).reverse()));
    expect(oracle.hash(parseJson(reordered), 'v1.14.10', 'apiserver')).toBe(v.hashes.get('1.14'));
  });

  it('fails loudly for a container that is not a vector, a version it lacks, and a static pod\'s literal empties', () => {
    const v = vectors.find((x) => x.id === 'minimal')!;
    const changed = parseJson(v.container.raw.replace('nginx:1.15', 'nginx:1.16'));
    expect(() => oracle.hash(changed, 'v1.14.10', 'apiserver')).toThrow(OracleMissError);
    expect(() => oracle.hash(v.container, 'v1.31.0', 'apiserver')).toThrow(/no golden hash of vector minimal for Kubernetes 1\.31/);
    const empties = vectors.find((x) => x.id === 'empty-lists')!;
    expect(() => oracle.hash(empties.container, 'v1.10.13', 'file')).toThrow(/literal empty list or map/);
    expect(() => oracle.hash(vectors.find((x) => x.id === 'res-empty-maps')!.container, 'v1.10.13', 'file')).toThrow(OracleMissError);
    expect(oracle.hash(v.container, 'v1.10.13', 'file')).toBe(v.hashes.get('1.10'));
  });

  it('canonical JSON keeps numbers as written and sorts keys', () => {
    expect(canonicalJson(parseJson('{"b":1.50,"a":[true,null,"x"]}'))).toBe('{"a":[true,null,"x"],"b":1.50}');
  });
});
