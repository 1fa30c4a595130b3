/**
 * Generates TypeScript types for kip's protos into the given directory (default proto/kip/generated),
 * and for kip's subset of containerd's events service (proto/containerd/, default
 * proto/containerd/generated), with exactly the options the runtime loaders use (proto/kip/loader.ts,
 * which proto/containerd/loader.ts shares). Run via scripts/gen-proto.sh.
 *
 * Two mechanical fixes make the output fit this repository: relative imports get their `.ts`
 * extension (NodeNext resolution), and the "Original file" header is made relative to the
 * repository so the output does not depend on where the checkout lives.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execaExec } from '../../lib/exec.ts';
import { KipError } from '../../lib/errors.ts';
import { genTypesArgs } from './loader.ts';
import { CONTAINERD_PROTO_FILES } from '../containerd/loader.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

async function listTs(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listTs(full)));
    else if (entry.name.endsWith('.ts')) out.push(full);
  }
  return out;
}

export function fixGeneratedSource(source: string): string {
  return source
    .replace(/(from '\.{1,2}\/[^']+?)(?<!\.ts)';/g, "$1.ts';")
    .replace(/^\/\/ Original file: .*?(proto\/(?:kip|containerd)\/.*)$/m, '// Original file: $1');
}

export async function generateKipTypes(outDir: string, files?: readonly string[]): Promise<void> {
  const bin = path.join(repoRoot, 'node_modules/.bin/proto-loader-gen-types');
  const absOut = path.resolve(outDir);
  const result = await execaExec(bin, genTypesArgs(absOut, files), { timeoutMs: 60_000, cwd: repoRoot });
  if (result.exitCode !== 0) {
    throw new KipError('PROTO_GEN_FAILED', `proto-loader-gen-types failed (${String(result.exitCode)}): ${result.stderr}`);
  }
  for (const file of await listTs(absOut)) {
    const text = await readFile(file, 'utf8');
    const fixed = fixGeneratedSource(text);
    if (fixed !== text) await writeFile(file, fixed);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await generateKipTypes(process.argv[2] ?? path.join(repoRoot, 'proto/kip/generated'));
  await generateKipTypes(process.argv[3] ?? path.join(repoRoot, 'proto/containerd/generated'), CONTAINERD_PROTO_FILES);
}
