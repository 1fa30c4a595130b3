/**
 * The boundary check (`npm run boundaries`, part of `npm test`) must fail the build on each kind
 * of forbidden import: a fixture tree with one violation per rule, cruised with the repository's
 * own config, must be refused with every rule named. (`npm run boundaries` checks the repository.)
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { execaExec } from '../../lib/exec.ts';

const REPO = path.resolve(import.meta.dirname, '..', '..');
const DEPCRUISE = path.join(REPO, 'node_modules/.bin/depcruise');
const CONFIG = path.join(REPO, '.dependency-cruiser.cjs');
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const FIXTURE: Record<string, string> = {
  'agent/uses-coordinator.ts': "import { x } from '../coordinator/thing.ts';\nexport const a = x;\n",
  'coordinator/thing.ts': "export const x = 1;\n",
  'coordinator/uses-agent.ts': "import { y } from '../agent/plain.ts';\nexport const c = y;\n",
  'agent/plain.ts': "export const y = 2;\n",
  'lib/uses-lab.ts': "import { lab } from '../scripts/lab/lab.ts';\nexport const l = lab;\n",
  'scripts/lab/lab.ts': "export const lab = 3;\n",
  'lib/knowledge/does-io.ts': "import { readFileSync } from 'node:fs';\nexport const k = readFileSync;\n",
  'lib/knowledge/reaches-out.ts': "import { z } from '../logger.ts';\nexport const r = z;\n",
  'lib/logger.ts': "export const z = 4;\n",
  'lib/reaches-up.ts': "import { y } from '../agent/plain.ts';\nexport const u = y;\n",
  'bench/uses-test.ts': "import { h } from '../test/harness.ts';\nexport const b = h;\n",
  'test/harness.ts': "export const h = 5;\n",
  'agent/cycle-a.ts': "import { cb } from './cycle-b.ts';\nexport const ca = () => cb;\n",
  'agent/cycle-b.ts': "import { ca } from './cycle-a.ts';\nexport const cb = () => ca;\n",
};

async function cruise(cwd: string) {
  const roots = ['agent', 'coordinator', 'lib', 'scripts', 'bench', 'test'];
  return execaExec(DEPCRUISE, ['--config', CONFIG, '--output-type', 'err', ...roots], { cwd, timeoutMs: 60_000 });
}

describe('boundary check', () => {
  it('refuses a tree with one violation of each rule, naming every rule', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kip-boundaries-'));
    dirs.push(dir);
    for (const [file, text] of Object.entries(FIXTURE)) {
      await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      await writeFile(path.join(dir, file), text);
    }
    const r = await cruise(dir);
    expect(r.exitCode).not.toBe(0);
    const out = r.stdout + r.stderr;
    for (const rule of ['agent-not-coordinator', 'coordinator-not-agent', 'production-not-tools', 'knowledge-is-pure', 'lib-is-the-floor', 'tools-not-tests', 'no-cycles']) {
      expect(out, rule).toContain(`error ${rule}:`);
    }
    expect(out).toContain('agent/uses-coordinator.ts → coordinator/thing.ts');
    expect(out).toContain('lib/knowledge/does-io.ts → fs');
  });
});
