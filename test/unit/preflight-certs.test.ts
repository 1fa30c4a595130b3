import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../coordinator/cli.ts';
import { parsePkiArgs, runPkiCommand } from '../../coordinator/commands/pki.ts';
import type { AgentPort, NodeInfo } from '../../coordinator/fleet/port.ts';
import { certFindings } from '../../coordinator/preflight/certs.ts';
import { FakeClock } from '../../lib/clock.ts';
import { fakeCluster, fakePorts, node, recordingIo } from './cli-fakes.ts';

const DAY = 86_400_000;
const NOW = 1_700_000_000_000;

describe('certificate expiry findings', () => {
  it('fails an expired certificate, warns under 30 days, says nothing otherwise or when unknown', () => {
    const f = certFindings([
      { object: 'a', notAfterMs: NOW - 1, fix: 'renew a' },
      { object: 'b', notAfterMs: NOW + 29 * DAY + 5, fix: 'renew b' },
      { object: 'c', notAfterMs: NOW + 31 * DAY, fix: 'renew c' },
      { object: 'd', notAfterMs: 0, fix: 'renew d' },
    ], NOW);
    expect(f.map((x) => [x.severity, x.object, x.fix])).toEqual([['error', 'a', 'renew a'], ['warning', 'b', 'renew b']]);
    expect(f[0]?.why).toMatch(/expired on 2023-11-14T22:13:19\.999Z/);
    expect(f[1]?.why).toMatch(/in 29 days, under 30/);
  });
});

describe('kip preflight --to: agent and coordinator certificates', () => {
  it("reports an agent's expired certificate (error, exit 1) and the coordinator's expiring one (warning)", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kip-pfcert-'));
    try {
      const quiet = { stdout: () => undefined, stderr: () => undefined, readInput: async () => '' };
      await runPkiCommand(parsePkiArgs(['init', '--dir', dir]), quiet);
      // Issued 355 days before NOW for 365 days: 10 days left.
      await runPkiCommand(parsePkiArgs(['issue', '--coordinator', 'lead', '--dir', dir]), quiet, new FakeClock(NOW - 355 * DAY + 60_000));
      const cert = await readFile(path.join(dir, 'coordinator-lead.crt'));
      const notAfter: Record<string, number> = { 'w-1': NOW - DAY, 'w-2': NOW + 200 * DAY };
      const agent = (name: string): AgentPort => ({
        getNode: async () => ({ nodeName: name, tlsCertNotAfterUnixMs: notAfter[name] ?? 0 }) as unknown as NodeInfo,
        preflight: async () => ({ checks: [], currentVersion: 'v1.10.13' }) as never,
        getRun: async () => { throw new Error('unused'); },
        stageBinary: async () => { throw new Error('unused'); },
        upgradeFollow: () => { throw new Error('unused'); },
        rollback: async () => { throw new Error('unused'); },
        hold: async () => { throw new Error('unused'); },
        release: async () => { throw new Error('unused'); },
        etcdSnapshot: async () => { throw new Error('unused'); },
        fetchSnapshot: () => { throw new Error('unused'); },
        watch: () => { throw new Error('unused'); },
        close: () => undefined,
      });
      const cluster = fakeCluster('v1.11.10', [node('w-1', 'v1.10.13', { ip: '10.0.0.1' }), node('w-2', 'v1.10.13', { ip: '10.0.0.2' })]);
      const ports = { ...fakePorts(cluster, { agents: (e) => agent(e.node), clock: new FakeClock(NOW) }), agentTls: async () => ({ ca: Buffer.from(''), cert, key: Buffer.from('') }) };
      const io = recordingIo();
      expect(await main(['preflight', '--kubeconfig', '/dev/null', '--to', 'v1.11.10', '-o', 'json'], io, ports)).toBe(1);
      const out = JSON.parse(io.out) as { findings: { severity: string; check: string; object: string; why: string }[] };
      expect(out.findings.filter((f) => f.check === 'cert-expiry').map((f) => [f.severity, f.object])).toEqual([
        ['warning', 'coordinator certificate (--pki-dir coordinator.crt)'],
        ['error', 'node w-1 (agent certificate)'],
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
