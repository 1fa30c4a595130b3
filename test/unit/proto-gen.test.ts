import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { execaExec } from '../../lib/exec.ts';
import { fixGeneratedSource } from '../../proto/kip/gen.ts';
import { loadKipPackageDefinition } from '../../proto/kip/loader.ts';

const repo = path.resolve(import.meta.dirname, '../..');
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function walk(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(full, base)));
    else out.push(path.relative(base, full));
  }
  return out.sort();
}

describe('generated proto types', () => {
  it('are up to date with proto/kip (regenerated with the loader options into a temp dir)', async () => {
    const out = await mkdtemp(path.join(tmpdir(), 'kip-gen-'));
    dirs.push(out);
    const r = await execaExec('bash', [path.join(repo, 'scripts/gen-proto.sh'), out], { timeoutMs: 60_000, cwd: repo });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const fresh = await walk(out);
    const committed = await walk(path.join(repo, 'proto/kip/generated'));
    expect(committed).toEqual(fresh);
    expect(fresh.length).toBeGreaterThan(10);
    for (const f of fresh) {
      const a = await readFile(path.join(out, f), 'utf8');
      const b = await readFile(path.join(repo, 'proto/kip/generated', f), 'utf8');
      expect(b, `proto/kip/generated/${f} is stale: run scripts/gen-proto.sh`).toBe(a);
    }
  }, 60_000);

  it('the runtime loader knows the Agent service and its methods', () => {
    const def = loadKipPackageDefinition();
    const svc = def['kip.v1.Agent'];
    expect(svc).toBeDefined();
    expect(Object.keys(svc ?? {}).sort()).toEqual(['EtcdSnapshot', 'FetchSnapshot', 'GetNode', 'GetRun', 'HashReport', 'Heal', 'Hold', 'Inventory', 'Preflight', 'Release', 'RemoveStaged', 'Rollback', 'StageBinary', 'Upgrade', 'Watch']);
  });

  it('post-processing adds .ts to relative imports and strips the absolute path', () => {
    const src = "// Original file: /somewhere/x/proto/kip/v1/agent.proto\nimport type { A } from '../../kip/v1/A';\nimport type { B } from '@grpc/proto-loader';\n";
    expect(fixGeneratedSource(src)).toBe("// Original file: proto/kip/v1/agent.proto\nimport type { A } from '../../kip/v1/A.ts';\nimport type { B } from '@grpc/proto-loader';\n");
  });
});
