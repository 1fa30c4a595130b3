/**
 * The main script of every packaged executable (scripts/package/sea.ts bundles this file to
 * CommonJS and makes it the SEA's `main`). The program itself is not the SEA's main script: its
 * chunks are SEA assets, compiled here through node:vm with a V8 code cache picked for the V8 flags
 * the process runs under.
 *
 * Why not Node's own `useCodeCache`: V8 accepts a code cache only under the flags it was made with,
 * and Node 20's SEA loader prints "Warning: Code cache data rejected." on stderr at every start
 * when they differ (the agent runs with the unit's NODE_OPTIONS=--max-semi-space-size=2, an
 * operator's `kip-agent --version` without it). Here a cache is made per NODE_OPTIONS the build
 * knows; any other start compiles from source, silently and correctly.
 *
 * Why chunks: V8 pre-parses the whole script it compiles, and esbuild's module wrappers are one
 * object literal per module (`__esm({"path"(){...}})`): 2,100 of them in the full CLI bundle cost
 * about 80 M instructions of map transitions at every start (callgrind, scripts/package/README.md).
 * `kip --help` runs a help chunk (cli.ts, the command table, commander) and loads the full chunk
 * only when argv names a command.
 */
import { getAsset, getRawAsset } from 'node:sea';
import { Script } from 'node:vm';
import path from 'node:path';
import { optionsKey, WRAP_HEAD, WRAP_TAIL } from './sea-wrap.ts';

/** Written by sea.ts: asset keys of each chunk's code cache, by the NODE_OPTIONS it was made under. */
declare const __KIP_SEA_CACHES__: Readonly<Record<string, Readonly<Record<string, string>>>>;

export interface SeaChunks {
  /** Compiles and runs a chunk (an asset `<name>.cjs`); a chunk runs once. */
  run(name: string): void;
}

function runChunk(name: string): void {
  const source = getAsset(`${name}.cjs`, 'utf8');
  const cacheKey = __KIP_SEA_CACHES__[name]?.[optionsKey(process.env.NODE_OPTIONS)];
  const cachedData = cacheKey === undefined ? undefined : Buffer.from(getRawAsset(cacheKey) as ArrayBuffer);
  const script = new Script(WRAP_HEAD + source + WRAP_TAIL, { filename: path.join(path.dirname(process.execPath), `${path.basename(process.execPath)}:${name}.cjs`), cachedData });
  const wrapped = script.runInThisContext() as (...args: unknown[]) => void;
  wrapped.call(module.exports, module.exports, require, module, process.execPath, path.dirname(process.execPath), chunks);
}

const chunks: SeaChunks = { run: runChunk };

chunks.run('entry');
