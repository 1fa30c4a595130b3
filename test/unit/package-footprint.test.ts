/**
 * What the packaged programs carry (issue 12: agent idle RSS under 80 MB, `kip --help` under
 * 300 ms), from esbuild's metafile of the same entry points scripts/package/build.ts bundles: the
 * agent never contains @kubernetes/client-node (+67 MiB of RSS, scripts/package/README.md), and
 * the CLI reaches client-node, grpc-js and better-sqlite3 only through dynamic imports.
 */
import { build, type Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { REPO } from '../../scripts/package/build.ts';

async function metafile(entry: string): Promise<Metafile> {
  const r = await build({ entryPoints: [entry], absWorkingDir: REPO, bundle: true, platform: 'node', format: 'esm', write: false, metafile: true, outdir: '/nonexistent', logLevel: 'silent', splitting: true, define: { __KIP_EMBEDDED_PROTOS__: '{}', __KIP_BUILD_ID__: '""' } });
  return r.metafile;
}

/** The inputs of an output and of every chunk it imports statically (what loading it evaluates). */
function eagerInputs(m: Metafile, output: string, seen = new Set<string>()): string[] {
  if (seen.has(output)) return [];
  seen.add(output);
  const o = m.outputs[output];
  if (!o) return [];
  return [...Object.keys(o.inputs), ...o.imports.filter((i) => i.kind === 'import-statement' && !i.external).flatMap((i) => eagerInputs(m, i.path, seen))];
}

describe('packaged footprint', () => {
  it('the agent bundle has no @kubernetes/client-node', async () => {
    const m = await metafile('agent/main.ts');
    const all = Object.keys(m.inputs);
    expect(all.some((i) => i.includes('node_modules/@grpc/grpc-js'))).toBe(true);
    expect(all.filter((i) => i.includes('@kubernetes/client-node'))).toEqual([]);
  }, 60_000);

  it('the CLI entry chunk (what kip --help evaluates) has no client-node, grpc-js or better-sqlite3: they sit in lazily imported chunks', async () => {
    const m = await metafile('coordinator/cli.ts');
    const entry = Object.entries(m.outputs).find(([, o]) => o.entryPoint === 'coordinator/cli.ts');
    expect(entry).toBeDefined();
    const eager = eagerInputs(m, entry![0]);
    expect(eager).toContain('coordinator/cli.ts');
    expect(eager.filter((i) => /@kubernetes\/client-node|@grpc\/grpc-js|better-sqlite3/.test(i))).toEqual([]);
    expect(Object.keys(m.inputs).some((i) => i.includes('@kubernetes/client-node'))).toBe(true);
  }, 60_000);
});
