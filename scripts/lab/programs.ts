/**
 * The lab's own programs (kubelet, apiserver, scheduler, controller-manager, kip-agent) as plain
 * JavaScript bundles under dist/lab/, built by `kip-lab up` before any node starts. Through tsx
 * every start compiled TypeScript again: seconds of CPU per kubelet start (most of the kubelet
 * downtime the demo printed) and a loader resident in every process. A bundle starts in a fraction
 * of that and carries no compiler.
 *
 * Each module keeps its own `import.meta.url` (rewritten per file to its source path), so code that
 * finds the repository or the proto files from its own location behaves as it does from source:
 * the repository is bind-mounted at the same path in every node. Only a lab brought up with
 * bundles uses them (its launchers name the directory); everything else, and `kip-lab up
 * --programs tsx` (for comparison), runs the sources through tsx, so a bundle is never stale.
 */
import { mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';

export const BUNDLED_PROGRAMS = ['kubelet', 'apiserver', 'scheduler', 'controller-manager', 'kube-proxy', 'kip-agent'] as const;
export type BundledProgram = (typeof BUNDLED_PROGRAMS)[number];

/** Source entry, and whether it runs on import or exports `main(argv)`. */
const SOURCES: Readonly<Record<BundledProgram, { readonly module: string; readonly exportsMain: boolean }>> = {
  kubelet: { module: 'scripts/lab/kubelet/main.ts', exportsMain: false },
  apiserver: { module: 'scripts/lab/apiserver/main.ts', exportsMain: true },
  scheduler: { module: 'scripts/lab/scheduler/main.ts', exportsMain: false },
  'controller-manager': { module: 'scripts/lab/controller-manager/main.ts', exportsMain: false },
  'kube-proxy': { module: 'scripts/lab/kube-proxy/main.ts', exportsMain: true },
  'kip-agent': { module: 'agent/main.ts', exportsMain: true },
};

export function sourceOf(program: BundledProgram): string {
  return SOURCES[program].module;
}

export type ProgramsMode = 'bundle' | 'tsx';

/** Where a lab's bundles live (inside the repository, which every node sees at the same path). */
export function labProgramsDir(repo: string): string {
  return join(repo, 'dist', 'lab');
}

/** The bundles directory a lab with these options uses; undefined = tsx (also for labs from before bundles). */
export function programsDirOf(options: { readonly programs?: ProgramsMode }, repo: string): string | undefined {
  return options.programs === 'bundle' ? labProgramsDir(repo) : undefined;
}

export function bundlePath(programsDir: string, program: BundledProgram): string {
  return join(programsDir, `${program}.mjs`);
}

/** The lab program whose entry is this source file (relative to the repo), if any. */
export function programOfSource(module: string): BundledProgram | undefined {
  return BUNDLED_PROGRAMS.find((p) => SOURCES[p].module === module);
}

/**
 * kip-agent's V8 flags in the lab: the shipped unit's NODE_OPTIONS (scripts/systemd/kip-agent.service),
 * so the lab measures the agent as a real node runs it.
 */
export const AGENT_NODE_FLAGS = '--max-semi-space-size=2';

/**
 * V8 flags of the lab's stand-ins for the Go programs (kubelet, apiserver, scheduler,
 * controller-manager, kube-proxy). Issue 12 asks these to run lighter (goal under 300 MB per lab
 * node); each flag was measured on a running lab, variant against baseline on the two containerd
 * workers, then swapped (scripts/lab/README.md, "Memory per node"):
 * - `--max-semi-space-size=2`: the young generation capped as the agent's unit caps it (each
 *   program polls or lists every second; at V8's default 16 MiB semi-spaces each process keeps
 *   2 x 16 MiB). 1 MiB saved little more and made a kubelet start about 100 ms slower (more
 *   scavenges while it loads), which is kubelet downtime.
 * - `--v8-pool-size=1`: one V8 platform worker thread instead of one per core; each thread has its
 *   own stack and malloc arena. About 5-10 MiB per kubelet.
 * - `--optimize-for-size`: V8's heuristics that favour size over speed (smaller heap growth
 *   steps, less inline caching). About 5-7 MiB per kubelet.
 */
export const LAB_NODE_FLAGS = '--max-semi-space-size=2 --v8-pool-size=1 --optimize-for-size';

/**
 * The environment a launcher gives a bundled stand-in: one glibc malloc arena (mallopt(3),
 * M_ARENA_MAX). glibc gives each thread that mallocs an arena of its own; node has the main thread,
 * the libuv pool and V8's workers, none of which needs malloc throughput here. A few MiB per process.
 */
export const LAB_NODE_ENV = 'MALLOC_ARENA_MAX=1';

function shellWord(s: string): string {
  if (!/^[A-Za-z0-9_./:=,@+-]+$/.test(s)) throw new Error(`lab refuses to put ${JSON.stringify(s)} into a launcher`);
  return `"${s}"`;
}

/**
 * The command words that start a lab program (or any repository module), as a launcher (a shell
 * script) writes them: its bundle when the lab has bundles, else the TypeScript source through tsx.
 * The agent's is also a unit's ExecStart, so it carries no environment prefix.
 */
export function programCommand(node: string, repo: string, module: string, programsDir: string | undefined): string {
  const program = programOfSource(module);
  if (program === 'kip-agent' && programsDir) return `${shellWord(node)} ${AGENT_NODE_FLAGS} ${shellWord(bundlePath(programsDir, program))}`;
  if (program && programsDir) return `${LAB_NODE_ENV} ${shellWord(node)} ${LAB_NODE_FLAGS} ${shellWord(bundlePath(programsDir, program))}`;
  return `${shellWord(node)} --import ${shellWord(`${repo}/node_modules/tsx/dist/esm/index.mjs`)} ${shellWord(`${repo}/${module}`)}`;
}

// Spelt in pieces: this module is itself part of bundles (launchers import it), and the rewrite
// below must not turn its own strings into URLs.
const META_URL = ['import', 'meta', 'url'].join('.');
const META_DIRNAME = ['import', 'meta', 'dirname'].join('.');

/** Rewrites `import.meta.url` in every repository module to that module's own source URL. */
function sourceUrls(repo: string): Plugin {
  return {
    name: 'kip-lab-source-urls',
    setup(b) {
      b.onLoad({ filter: /\.ts$/ }, async (args) => {
        if (!args.path.startsWith(repo) || args.path.includes('/node_modules/')) return undefined;
        const text = await readFile(args.path, 'utf8');
        const contents = text.replaceAll(META_URL, JSON.stringify(pathToFileURL(args.path).href)).replaceAll(META_DIRNAME, JSON.stringify(dirname(args.path)));
        return { contents, loader: 'ts' };
      });
    },
  };
}

export interface BuiltProgram {
  readonly program: BundledProgram;
  readonly path: string;
  readonly bytes: number;
}

/** Builds every lab program into `dir` (default dist/lab/; ESM, node built-ins and native addons external). */
export async function buildLabPrograms(repo: string, dir = labProgramsDir(repo)): Promise<BuiltProgram[]> {
  await mkdir(dir, { recursive: true });
  const out: BuiltProgram[] = [];
  for (const program of BUNDLED_PROGRAMS) out.push(await buildLabProgram(repo, program, bundlePath(dir, program)));
  return out;
}

/**
 * Builds one program into `outfile`. Outside dist/lab/ too (the nspawn tests run the agent from a
 * bundle in the node: an agent restart there costs a node start, not a TypeScript compile); a
 * bundle placed outside the repository must not need node_modules, which the agent's does not.
 */
export async function buildLabProgram(repo: string, program: BundledProgram, outfile: string): Promise<BuiltProgram> {
  const { module, exportsMain } = SOURCES[program];
  const entry = exportsMain
    ? `import { main } from './${module}';\nmain(process.argv.slice(2)).then((code) => { if (typeof code === 'number') process.exit(code); }, (e) => { process.stderr.write(String(e instanceof Error ? e.stack ?? e.message : e) + '\\n'); process.exit(2); });\n`
    : `import './${module}';\n`;
  await mkdir(dirname(outfile), { recursive: true });
  await build({
    stdin: { contents: entry, resolveDir: repo, sourcefile: `lab-${program}-entry.ts`, loader: 'ts' },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    outfile,
    external: ['better-sqlite3', '*.node'],
    // CommonJS dependencies (grpc-js, pino) call require(): give the ESM bundle one.
    banner: { js: `import { createRequire as __kipCreateRequire } from 'node:module'; const require = __kipCreateRequire(${META_URL});` },
    plugins: [sourceUrls(repo)],
    legalComments: 'none',
    logLevel: 'warning',
  });
  return { program, path: outfile, bytes: (await stat(outfile)).size };
}
