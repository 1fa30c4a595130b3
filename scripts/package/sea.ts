/**
 * Node's single-executable application around kip's chunks (Node 20: CommonJS main, blob injected
 * with postject). The SEA's main is scripts/package/sea-launcher.ts; the program's chunks, their V8
 * code caches (one per NODE_OPTIONS the program is known to run under) and native addons are SEA
 * assets (`assets` in the SEA config, Node >= 20.12; read with node:sea getAsset/getRawAsset).
 * postject is run through npx from the npm registry (it is not a dependency: only the build needs it).
 */
import { chmod, copyFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';
import { execaExec } from '../../lib/exec.ts';
import { optionsKey, WRAP_HEAD, WRAP_TAIL } from './sea-wrap.ts';

const LAUNCHER = path.join(import.meta.dirname, 'sea-launcher.ts');

/** This process's environment with NODE_OPTIONS replaced (the V8 flags a cache is made under). */
function envWith(nodeOptions: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  env.NODE_OPTIONS = nodeOptions;
  return env;
}

export interface SeaInput {
  /** Chunk name -> bundle file (CommonJS). The launcher runs `entry`; a chunk may run another through `__kip_sea.run(name)`. */
  readonly chunks: Readonly<Record<string, string>>;
  /** Other assets by key (e.g. a native addon the program dlopens from its SEA asset). */
  readonly assets?: Readonly<Record<string, string>>;
  /** A command line to run a chunk with before its code cache is made (see codeCache). */
  readonly warmArgv?: Readonly<Record<string, readonly string[]>>;
  /**
   * The NODE_OPTIONS values to make a code cache for (V8 rejects a cache made under other V8
   * flags). '' is a start without NODE_OPTIONS.
   */
  readonly cacheFor?: readonly string[];
}

/**
 * A V8 code cache of `bundleFile` in the launcher's wrapper, made by a node of the running version
 * under exactly `nodeOptions` (the flags are part of what V8 checks when it loads a cache). With
 * `warmArgv` the chunk is first run once with that command line (its output thrown away) and the
 * cache made when the process is about to exit: it then also holds every function that run
 * compiled lazily (commander's, for `kip --help`), which a start would otherwise compile again.
 */
async function codeCache(bundleFile: string, outFile: string, nodeOptions: string, warmArgv?: readonly string[]): Promise<void> {
  const gen = [
    "const { readFileSync, writeFileSync } = require('node:fs');",
    "const { Script } = require('node:vm');",
    `const src = ${JSON.stringify(WRAP_HEAD)} + readFileSync(process.argv[1], 'utf8') + ${JSON.stringify(WRAP_TAIL)};`,
    'const script = new Script(src);',
    'const out = process.argv[2];',
    'if (process.argv.length <= 3) writeFileSync(out, script.createCachedData());',
    'else {',
    "  process.argv = [process.argv[0], 'kip', ...process.argv.slice(3)];",
    '  process.stdout.write = process.stderr.write = () => true;',
    "  process.once('beforeExit', () => { writeFileSync(out, script.createCachedData()); process.exitCode = 0; });",
    "  const m = { exports: {} };",
    "  script.runInThisContext()(m.exports, require, m, __filename, __dirname, { run: (n) => { throw new Error('warm run reached chunk ' + n); } });",
    '}',
  ].join('\n');
  const r = await execaExec(process.execPath, ['-e', gen, bundleFile, outFile, ...(warmArgv ?? [])], { timeoutMs: 300_000, env: envWith(nodeOptions) });
  if (r.exitCode !== 0) throw new Error(`code cache of ${bundleFile} under NODE_OPTIONS=${JSON.stringify(nodeOptions)} failed: ${r.stderr}`);
}

/**
 * Builds `outFile` from a copy of `nodeBinary` (default: the running node). The blob is always made
 * by the running node (arm64NodeBinary pins the same version); V8's code cache is per
 * architecture, so a cross build goes without caches (every start compiles from source).
 */
export async function seaExecutable(input: SeaInput, outFile: string, workDir: string, nodeBinary = process.execPath): Promise<void> {
  const cross = path.resolve(nodeBinary) !== path.resolve(process.execPath);
  const base = path.basename(outFile);
  const assets: Record<string, string> = { ...input.assets };
  const caches: Record<string, Record<string, string>> = {};
  for (const [name, file] of Object.entries(input.chunks)) {
    assets[`${name}.cjs`] = file;
    if (cross) continue;
    const byOptions: Record<string, string> = {};
    for (const [i, opts] of [...new Set((input.cacheFor ?? ['']).map(optionsKey))].entries()) {
      const key = `${name}.${i}.cache`;
      const file2 = path.join(workDir, `${base}.${key}`);
      await codeCache(file, file2, opts, input.warmArgv?.[name]);
      assets[key] = file2;
      byOptions[opts] = key;
    }
    caches[name] = byOptions;
  }
  const launcher = path.join(workDir, `${base}.launcher.cjs`);
  await build({
    entryPoints: [LAUNCHER], bundle: true, platform: 'node', target: 'node20', format: 'cjs', outfile: launcher,
    minifySyntax: true, legalComments: 'none', logLevel: 'warning', define: { __KIP_SEA_CACHES__: JSON.stringify(caches) },
  });
  const blob = path.join(workDir, `${base}.blob`);
  const config = path.join(workDir, `${base}.sea.json`);
  // useCodeCache stays off: the launcher is a few lines, and Node's own cache of it would bring
  // back the "Code cache data rejected" warning under any other V8 flags (sea-launcher.ts).
  await writeFile(config, JSON.stringify({ main: launcher, output: blob, disableExperimentalSEAWarning: true, useCodeCache: false, assets }));
  const gen = await execaExec(process.execPath, ['--experimental-sea-config', config], { timeoutMs: 120_000, cwd: workDir, env: envWith('') });
  if (gen.exitCode !== 0) throw new Error(`node --experimental-sea-config failed: ${gen.stderr}`);
  await rm(outFile, { force: true });
  await copyFile(nodeBinary, outFile);
  await chmod(outFile, 0o755);
  // Node's binary ships with its symbol table (about 12 MB here); strip it before the blob goes in
  // (stripping afterwards would drop the injected note). Without binutils the copy stays as is.
  const stripped = await execaExec('strip', [outFile], { timeoutMs: 120_000 });
  if (stripped.exitCode !== 0) process.stderr.write(`strip unavailable (${stripped.stderr.trim() || 'not found'}); executable keeps symbols\n`);
  const inject = await execaExec(
    'npx',
    ['--yes', 'postject@1.0.0-alpha.6', outFile, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'],
    { timeoutMs: 300_000, cwd: workDir },
  );
  if (inject.exitCode !== 0) throw new Error(`postject failed: ${inject.stderr}${inject.stdout}`);
}
