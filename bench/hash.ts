/**
 * Container-hash throughput over the shared golden containers, round-robin, for v1.10 (spew of
 * the struct) and v1.17 (spew of the JSON bytes). Like the Go figure in the vectors' README,
 * the main number excludes decoding; decode+hash and the FNV-only floor (hashing the already
 * rendered bytes) are printed beside it as baselines from the same run.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashEngine, objectField, parseJson, type JsonNode } from '../lib/knowledge/hash/index.ts';
import { fnv1a32 } from '../lib/knowledge/hash/fnv.ts';

const ITERATIONS = 200_000;
/** Go 1.19, one core, same containers, decode excluded (test/fixtures/hash-vectors/README.md). */
const GO_FIGURES: Record<string, string> = { '1.10': '80,000-105,000', '1.17': '41,000-43,000' };

function loadContainers(): JsonNode[] {
  const root = parseJson(readFileSync(join(import.meta.dirname, '../test/fixtures/hash-vectors/containers.json'), 'utf8'));
  if (root.kind !== 'array') throw new Error('containers.json is not an array');
  return root.items.map((item) => {
    const c = objectField(item, 'container');
    if (!c) throw new Error('vector without container');
    return c;
  });
}

function rate(n: number, ms: number): string {
  return Math.round((n / ms) * 1000).toLocaleString('en-US');
}

export function runHashBench(): void {
  const nodes = loadContainers();
  for (const version of ['1.10', '1.17']) {
    const engine = hashEngine(version);
    const decoded = nodes.map((n) => engine.decode(n));
    const rendered = decoded.map((c) => engine.hashInput(c));
    let sink = 0;
    // warm-up
    for (let i = 0; i < 20_000; i++) sink ^= engine.hashDecoded(decoded[i % decoded.length]!);

    let t0 = performance.now();
    for (let i = 0; i < ITERATIONS; i++) sink ^= engine.hashDecoded(decoded[i % decoded.length]!);
    const hashMs = performance.now() - t0;

    t0 = performance.now();
    for (let i = 0; i < ITERATIONS; i++) sink ^= engine.hashDecoded(engine.decode(nodes[i % nodes.length]!));
    const fullMs = performance.now() - t0;

    t0 = performance.now();
    for (let i = 0; i < ITERATIONS; i++) sink ^= fnv1a32(rendered[i % rendered.length]!);
    const floorMs = performance.now() - t0;

    process.stdout.write(
      `hash v${version}: ${rate(ITERATIONS, hashMs)} hashes/s (decode excluded; Go: ${GO_FIGURES[version]}/s)` +
        ` | decode+hash ${rate(ITERATIONS, fullMs)}/s | FNV over pre-rendered bytes ${rate(ITERATIONS, floorMs)}/s` +
        ` | ${ITERATIONS.toLocaleString('en-US')} hashes, sink ${sink & 1}\n`,
    );
  }
}
