/**
 * The kip_agent role (issue 12, "Numbers"): the first and the second (idempotent, changed=0)
 * ansible-playbook run on three nspawn nodes, in the same run, wall time from the start of
 * ansible-playbook to its exit, plus the slowest tasks of the first run. Nodes as in
 * test/integration/ansible-role.test.ts (community.docker.nsenter, no Node.js on them); the
 * artifacts from scripts/package/cached.ts (built first if needed, not timed).
 *
 * Environment: KIP_BENCH_ANSIBLE_NODES (default 3).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execaExec } from '../lib/exec.ts';
import { bootKubeletNode, nsenterInventory, runPlaybook, type KubeletNode } from '../scripts/ansible/harness.ts';
import { cachedAgentArtifact, cachedKipArtifact } from '../scripts/package/cached.ts';

export async function runAnsibleBench(): Promise<void> {
  const count = Number(process.env.KIP_BENCH_ANSIBLE_NODES ?? 3);
  const tmp = await mkdtemp(path.join(tmpdir(), 'kip-bench-ansible-'));
  const nodes: KubeletNode[] = [];
  try {
    const [kip, agent] = [await cachedKipArtifact(), await cachedAgentArtifact()];
    const pki = path.join(tmp, 'pki');
    const init = await execaExec(kip, ['pki', 'init', '--dir', pki], { timeoutMs: 60_000 });
    if (init.exitCode !== 0) throw new Error(`kip pki init: ${init.stderr}`);
    nodes.push(...(await Promise.all(Array.from({ length: count }, (_, i) => bootKubeletNode(`kip-bench-ans-${i + 1}`, path.join(tmp, `n${i + 1}`), 'v1.10.13')))));
    const inventory = path.join(tmp, 'inventory.yml');
    await writeFile(inventory, nsenterInventory(nodes));
    const extraVars = { kip_agent_artifact: agent, kip_agent_kip_cli: kip, kip_agent_pki_dir: pki };
    const line = (s: string) => process.stdout.write(`${s}\n`);
    for (const label of ['first run (install)', 'second run (idempotent)']) {
      const r = await runPlaybook({ inventory, extraVars });
      if (r.exitCode !== 0) throw new Error(`${label} failed: ${JSON.stringify(r.failures)}`);
      const changed = Object.values(r.stats).map((s) => s.changed);
      line(`ansible ${label}, ${count} nodes: ${(r.durationMs / 1000).toFixed(1)} s, changed per host ${changed.join('/')}`);
      if (label.startsWith('first')) {
        const slow = [...r.taskMs].sort((a, b) => b.ms - a.ms).slice(0, 4);
        line(`  slowest tasks: ${slow.map((t) => `${t.task.replace(/^kip_agent : /, '')} ${(t.ms / 1000).toFixed(1)} s`).join('; ')}`);
      }
    }
  } finally {
    await Promise.all(nodes.map((n) => n.node.stop()));
    await rm(tmp, { recursive: true, force: true });
  }
}
