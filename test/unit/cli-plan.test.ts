import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import { main } from '../../coordinator/cli.ts';
import { fakeCluster, fakePorts, node, recordingIo } from './cli-fakes.ts';

const pods = (JSON.parse(readFileSync(join(import.meta.dirname, '../../examples/podlist.json'), 'utf8')) as { items: V1Pod[] }).items;

describe('kip plan', () => {
  it('prints both plans from the live versions, with per-hop predicted restarts, as JSON', async () => {
    const cluster = fakeCluster('v1.10.13', [node('node-1', 'v1.10.13'), node('node-2', 'v1.10.13')], pods);
    const io = recordingIo();
    expect(await main(['plan', '--to', 'v1.17.17', '-o', 'json'], io, fakePorts(cluster))).toBe(0);
    const out = JSON.parse(io.out) as { apiserver: string; controlPlanePath: string[]; plans: Record<string, { kubeletRestarts: number; steps: { kubelets: { from: string; to: string; wouldRestart: number; containers: number }[] }[] }> };
    expect(out.apiserver).toBe('v1.10.13');
    expect(out.controlPlanePath).toHaveLength(7);
    expect(out.plans['every-step']!.kubeletRestarts).toBe(14);
    expect(out.plans['fewest-restarts']!.kubeletRestarts).toBe(8);
    const hop16 = out.plans['every-step']!.steps.flatMap((s) => s.kubelets).find((h) => h.to.startsWith('v1.16'))!;
    // the 8 regular containers of examples/podlist.json (postgres-0's init container is never hash-compared by the kubelet)
    expect(hop16).toMatchObject({ containers: 8, wouldRestart: 8 });
  });

  it('prints a table by default, YAML with -o yaml, and colour only on a terminal without NO_COLOR', async () => {
    const cluster = fakeCluster('v1.12.10', [node('w1', 'v1.11.10')]);
    const table = recordingIo();
    expect(await main(['plan', '--to', 'v1.13.12'], table, fakePorts(cluster))).toBe(0);
    expect(table.out).toContain('plan fewest-restarts: 1 kubelet restarts');
    expect(table.out).toContain('TaintBasedEvictions');
    expect(table.out).not.toContain('\u001b[');
    const tty = recordingIo({}, {}, true);
    await main(['plan', '--to', 'v1.13.12'], tty, fakePorts(cluster));
    expect(tty.out).toContain('\u001b[1m');
    const noColor = recordingIo({ NO_COLOR: '1' }, {}, true);
    await main(['plan', '--to', 'v1.13.12'], noColor, fakePorts(cluster));
    expect(noColor.out).not.toContain('\u001b[');
    const flag = recordingIo({}, {}, true);
    await main(['plan', '--to', 'v1.13.12', '--no-color'], flag, fakePorts(cluster));
    expect(flag.out).not.toContain('\u001b[');
    const yaml = recordingIo();
    await main(['plan', '--to', 'v1.13.12', '-o', 'yaml'], yaml, fakePorts(cluster));
    expect(yaml.out).toMatch(/^apiserver: v1\.12\.10$/m);
  });

  it.each([
    [['--to', 'v1.9.0'], /older than the running v1\.12\.10/],
    [['--to', 'banana'], /"banana" is not a Kubernetes version/],
    [['--to', 'v1.13.12', '-o', 'xml'], /argument 'xml' is invalid/],
    [['--to', 'v1.13.12', '--max-concurrency', '0'], /--max-concurrency must be an integer of at least 1/],
    [[], /required option '--to <version>'/],
  ])('exits 2 on bad input %j', async (args, message) => {
    const cluster = fakeCluster('v1.12.10', [node('w1', 'v1.12.10')]);
    const io = recordingIo();
    expect(await main(['plan', ...args], io, fakePorts(cluster))).toBe(2);
    expect(io.err).toMatch(message);
    expect(io.out).toBe('');
  });

  it('refuses a cluster the skew policy forbids, naming the rule', async () => {
    const io = recordingIo();
    expect(await main(['plan', '--to', 'v1.13.12'], io, fakePorts(fakeCluster('v1.12.10', [node('w1', 'v1.13.12')])))).toBe(2);
    expect(io.err).toContain('newer than kube-apiserver');
  });

  it('documents the exit codes in --help', async () => {
    const io = recordingIo();
    expect(await main(['--help'], io)).toBe(0);
    expect(io.out).toMatch(/3 +another run holds the cluster's upgrade lock/);
    expect(io.out).toContain('plan');
  });
});
