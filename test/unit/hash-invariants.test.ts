// Fuzz-style invariants of the printer and the decoder, over randomly generated containers.
// The generator is seeded, so a failure reproduces.
import { describe, expect, it } from 'vitest';
import { containerHash, supportedVersions } from '../../lib/knowledge/hash/index.ts';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    s ^= s >>> 13;
    return (s >>> 0) / 2 ** 32;
  };
}

const QUANTITIES = ['100m', '0.5', '1', '2', '1Gi', '1.5Gi', '500M', '129e6', '1e3', '0', '1Ki', '0.001', '250m', '3k'];
const STRINGS = ['a', 'nginx:1.15', '', 'h\u00e9llo', '<x>&', 'say "hi"', '\u65e5\u672c', 'tab\there'];

function randomContainer(r: () => number): Record<string, unknown> {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const c: Record<string, unknown> = { name: `c${Math.floor(r() * 1000)}`, image: pick(STRINGS) };
  if (r() < 0.5) c.args = Array.from({ length: Math.floor(r() * 4) + 1 }, () => pick(STRINGS));
  if (r() < 0.5) c.env = Array.from({ length: Math.floor(r() * 3) + 1 }, (_, i) => ({ name: `E${i}`, value: pick(STRINGS) }));
  if (r() < 0.6) {
    const res = (): Record<string, string> => Object.fromEntries(['cpu', 'memory', 'ephemeral-storage', 'nvidia.com/gpu'].filter(() => r() < 0.6).map((k) => [k, pick(QUANTITIES)]));
    c.resources = { limits: res(), requests: res() };
  }
  if (r() < 0.4) c.ports = [{ containerPort: Math.floor(r() * 65535) + 1, protocol: 'TCP' }];
  if (r() < 0.4) c.volumeMounts = [{ name: 'v', mountPath: '/data', readOnly: r() < 0.5 }];
  if (r() < 0.3) c.securityContext = { runAsUser: Math.floor(r() * 5000), privileged: r() < 0.5 };
  if (r() < 0.3) c.livenessProbe = { httpGet: { path: '/h', port: r() < 0.5 ? 8080 : 'http' }, periodSeconds: 10 };
  return c;
}

/** The same object with every object's keys in another order. */
function shuffleKeys(x: unknown, r: () => number): unknown {
  if (Array.isArray(x)) return x.map((v) => shuffleKeys(v, r));
  if (x && typeof x === 'object') {
    const entries = Object.entries(x).map(([k, v]) => [k, shuffleKeys(v, r)] as const);
    for (let i = entries.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [entries[i], entries[j]] = [entries[j]!, entries[i]!];
    }
    return Object.fromEntries(entries);
  }
  return x;
}

const versions = supportedVersions();
const samples = Array.from({ length: 60 }, (_, i) => randomContainer(rng(1000 + i)));

describe('hash invariants', () => {
  it('is deterministic', () => {
    for (const c of samples) for (const v of versions) expect(containerHash(c, v).hash).toBe(containerHash(structuredClone(c), v).hash);
  });

  it('does not depend on the order of object keys (map order, field order) or white space', () => {
    const r = rng(7);
    for (const c of samples) {
      const shuffled = JSON.stringify(shuffleKeys(c, r), null, 3);
      for (const v of versions) expect(containerHash(shuffled, v).hash).toBe(containerHash(c, v).hash);
    }
  });

  it('ignores fields a version does not know', () => {
    for (const c of samples) {
      // startupProbe arrived in 1.16, resizePolicy in 1.27, restartPolicy in 1.28: unknown before.
      const withNew = { ...c, startupProbe: { exec: { command: ['true'] } }, resizePolicy: [{ resourceName: 'cpu', restartPolicy: 'NotRequired' }], notAField: { x: 1 } };
      for (const v of ['1.10', '1.13', '1.15']) expect(containerHash(withNew, v).hash).toBe(containerHash(c, v).hash);
      expect(containerHash({ ...c, notAField: 1, resizePolicy: [{ resourceName: 'cpu', restartPolicy: 'NotRequired' }] }, '1.26').hash).toBe(containerHash(c, '1.26').hash);
    }
  });

  it('changes when a known field changes', () => {
    for (const c of samples) {
      for (const v of ['1.10', '1.17', '1.31']) {
        expect(containerHash({ ...c, image: `${String(c.image)}-x` }, v).hash).not.toBe(containerHash(c, v).hash);
      }
      expect(containerHash({ ...c, workingDir: '/elsewhere' }, '1.14').hash).not.toBe(containerHash(c, '1.14').hash);
    }
  });

  it('gives 1.31+ the same hash for the same name and image whatever else differs', () => {
    for (const c of samples) expect(containerHash({ name: c.name, image: c.image }, '1.32').hash).toBe(containerHash(c, '1.32').hash);
  });
});
