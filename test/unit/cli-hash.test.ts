import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../coordinator/cli.ts';
import type { CliIo } from '../../coordinator/io.ts';

const podlist = readFileSync(join(import.meta.dirname, '../../examples/podlist.json'), 'utf8');

function fakeIo(files: Record<string, string>): CliIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    stdout: (s: string) => { io.out += s; },
    stderr: (s: string) => { io.err += s; },
    readInput: async (path: string) => {
      const content = files[path];
      if (content === undefined) throw new Error(`test io has no ${path}`);
      return content;
    },
  };
  return io;
}

describe('kip hash', () => {
  it('prints one JSON row per container, keyed by namespace/pod', async () => {
    const io = fakeIo({ 'pods.json': podlist });
    expect(await main(['hash', '--kube-version', '1.17', 'pods.json', '-o', 'json'], io)).toBe(0);
    const rows = JSON.parse(io.out) as { pod: string | null; container: string; kubeVersion: string; hash: string }[];
    expect(rows).toHaveLength(9);
    expect(rows[0]).toEqual({ pod: 'kube-system/kube-proxy-7xk2p', container: 'kube-proxy', kubeVersion: '1.17', hash: expect.stringMatching(/^[0-9a-f]{1,8}$/) });
    expect(rows.map((r) => r.container)).toContain('init-perms');
  });

  it('reads standard input for "-" and prints one text line per container by default', async () => {
    const io = fakeIo({ '-': '{"name":"test_container","image":"foo/image:v1","args":["/bin/sh","-c","echo abc"],"ports":[{"containerPort":8001}]}' });
    expect(await main(['hash', '--kube-version', '1.16', '-'], io)).toBe(0);
    expect(io.out).toBe('-    test_container  1.16     3c42280f\n');
  });

  it('predicts restarts per adjacent step with namespace totals', async () => {
    const io = fakeIo({ 'pods.json': podlist });
    expect(await main(['hash', '--from', '1.13', '--to', '1.15', 'pods.json', '-o', 'json'], io)).toBe(0);
    const report = JSON.parse(io.out) as { steps: { from: string; to: string; changed: { container: string; pod: string }[]; byNamespace: Record<string, { changed: number; total: number }> }[]; restartedAtLeastOnce: number; totalContainers: number };
    expect(report.steps.map((s) => `${s.from}->${s.to}`)).toEqual(['1.13->1.14', '1.14->1.15']);
    // 1.13 -> 1.14: VolumeMount gained SubPathExpr, so exactly the containers with a volume mount change
    const withMounts = JSON.parse(podlist).items.flatMap((p: { metadata: { namespace: string; name: string }; spec: { containers: { name: string; volumeMounts?: unknown[] }[]; initContainers?: { name: string; volumeMounts?: unknown[] }[] } }) =>
      [...(p.spec.initContainers ?? []), ...p.spec.containers].filter((c) => c.volumeMounts).map((c) => `${p.metadata.namespace}/${p.metadata.name}/${c.name}`));
    expect(report.steps[0]!.changed.map((c) => `${c.pod}/${c.container}`).sort()).toEqual(withMounts.sort());
    expect(report.steps[0]!.byNamespace['monitoring']).toEqual({ changed: 0, total: 1 });
    // 1.14 -> 1.15: SecurityContext gained fields, so exactly the containers with one change
    expect(report.steps[1]!.changed.map((c) => c.container).sort()).toEqual(['kube-proxy', 'postgres']);
    expect(report.totalContainers).toBe(9);
  });

  it('says an init container\'s hash change restarts nothing: the kubelet never compares it', async () => {
    const io = fakeIo({ 'pods.json': podlist });
    expect(await main(['hash', '--from', '1.15', '--to', '1.16', 'pods.json'], io)).toBe(0);
    // 1.15 -> 1.16 changes every hash; examples/podlist.json has one init container (init-perms) of 9.
    expect(io.out).toContain('1.15 -> 1.16: 9 of 9 containers change hash (an unpatched kubelet would restart the 8 that are not init containers');
    expect(io.out).toContain('init-perms (init)');
  });

  it('exits 2 with a clear message on bad input, and prints no hash', async () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['hash', '--kube-version', '1.17', 'x.json'], { 'x.json': '{"name": "a", "image": ' }, /malformed JSON at line 1, column 24/],
      [['hash', '--kube-version', '1.17', 'x.json'], { 'x.json': '{"name":"a","ports":[{"containerPort":"80"}]}' }, /ports\[0\]\.containerPort: expected integer/],
      [['hash', '--kube-version', '1.17', 'x.json'], { 'x.json': '{"name":"a","resources":{"limits":{"cpu":"lots"}}}' }, /unparsable quantity "lots"/],
      [['hash', '--kube-version', '2.0', 'x.json'], { 'x.json': '{}' }, /unsupported Kubernetes version "2\.0".*1\.10, 1\.11/],
      [['hash', '--from', '1.14', '--to', '1.13', 'x.json'], { 'x.json': '{}' }, /must be an older minor/],
      [['hash', 'x.json'], { 'x.json': '{}' }, /needs --kube-version/],
      [['hash', '--kube-version', '1.17', '-o', 'yaml', 'x.json'], { 'x.json': '{}' }, /-o must be text or json/],
    ];
    for (const [argv, files, message] of cases) {
      const io = fakeIo(files);
      expect(await main(argv, io)).toBe(2);
      expect(io.err).toMatch(message);
      expect(io.out).toBe('');
    }
  });

  it('lists the commands for an unknown one', async () => {
    const io = fakeIo({});
    expect(await main(['frobnicate'], io)).toBe(2);
    expect(io.err).toContain('unknown command "frobnicate"');
    expect(io.err).toContain('hash');
  });
});
