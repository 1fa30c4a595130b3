import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { execaExec } from '../../lib/exec.ts';
import { fixGeneratedSource } from '../../proto/kip/gen.ts';
import { loadKipPackageDefinition } from '../../proto/kip/loader.ts';
import { loadContainerdEventsDefinition } from '../../proto/containerd/loader.ts';

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
  it('are up to date with proto/kip and proto/containerd (regenerated with the loader options into temp dirs)', async () => {
    const out = await mkdtemp(path.join(tmpdir(), 'kip-gen-'));
    const ctd = await mkdtemp(path.join(tmpdir(), 'kip-gen-ctd-'));
    dirs.push(out, ctd);
    const r = await execaExec('bash', [path.join(repo, 'scripts/gen-proto.sh'), out, ctd], { timeoutMs: 90_000, cwd: repo });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    for (const [dir, committedDir, min] of [[out, 'proto/kip/generated', 10], [ctd, 'proto/containerd/generated', 8]] as const) {
      const fresh = await walk(dir);
      const committed = await walk(path.join(repo, committedDir));
      expect(committed).toEqual(fresh);
      expect(fresh.length).toBeGreaterThan(min);
      for (const f of fresh) {
        const a = await readFile(path.join(dir, f), 'utf8');
        const b = await readFile(path.join(repo, committedDir, f), 'utf8');
        expect(b, `${committedDir}/${f} is stale: run scripts/gen-proto.sh`).toBe(a);
      }
    }
  }, 90_000);

  it('the containerd loader knows Events.Subscribe and Publish by containerd\'s own paths', () => {
    const svc = loadContainerdEventsDefinition()['containerd.services.events.v1.Events'];
    expect(Object.keys(svc ?? {})).toEqual(['Subscribe', 'Publish']);
    expect((svc as unknown as { Publish: { path: string } }).Publish.path).toBe('/containerd.services.events.v1.Events/Publish');
    expect((svc as unknown as { Subscribe: { path: string; responseStream: boolean } }).Subscribe).toMatchObject({ path: '/containerd.services.events.v1.Events/Subscribe', responseStream: true });
  });

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
