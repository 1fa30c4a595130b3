/**
 * `kip upgrade` and `kip stage`-style staging over the real kip-agent gRPC server (mutual TLS on
 * 127.0.0.1, real on-disk state, real `--version` runs of staged binaries), with mTLS material read
 * from --pki-dir and the agent found through --inventory. The kubelet unit is the unit tests' fake
 * node, and the cluster a fake whose Node reports what the agent runs (the adapters under test
 * are the coordinator's fleet client, staging and engine wiring).
 */
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { V1Node } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execaExec } from '../../lib/exec.ts';
import { silentLogger } from '../../lib/logger.ts';
import { systemClock } from '../../lib/clock.ts';
import { createAgentHandlers, startAgentServer, type RunningServer } from '../../agent/server.ts';
import { nodeFileSystem } from '../../agent/upgrade/fs.ts';
import { kubeletBinaryPort } from '../../agent/upgrade/wiring.ts';
import type { UpgradeAgent } from '../../agent/upgrade/agent.ts';
import { main } from '../../coordinator/cli.ts';
import { productionPorts } from '../../coordinator/production-ports.ts';
import { AgentConnection } from '../../coordinator/fleet/client.ts';
import { openSqliteStore } from '../../coordinator/store/sqlite.ts';
import type { ClusterApi, CliPorts } from '../../coordinator/ports.ts';
import { parseJson } from '../../lib/knowledge/hash/index.ts';
import { fakeBinary, makeHarness, type Harness } from '../unit/upgrade-fakes.ts';
import { memoryLock, recordingIo } from '../unit/cli-fakes.ts';
import { makeTestPki, type TestPki } from '../../scripts/nspawn/test-pki.ts';

let tmp: string;
let pki: TestPki;
let h: Harness;
let agent: UpgradeAgent;
let server: RunningServer;
let probe: AgentConnection;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'kip-coord-agent-'));
  pki = await makeTestPki(path.join(tmp, 'pki-src'));
  const pkiDir = path.join(tmp, 'pki');
  await mkdir(pkiDir);
  await copyFile(path.join(pki.dir, 'ca.crt'), path.join(pkiDir, 'ca.crt'));
  await copyFile(path.join(pki.dir, 'client.crt'), path.join(pkiDir, 'coordinator.crt'));
  await copyFile(path.join(pki.dir, 'client.key'), path.join(pkiDir, 'coordinator.key'));
  h = await makeHarness();
  const made = h.makeAgent({ kubelet: kubeletBinaryPort(execaExec), stableMs: 300, verifyTimeoutMs: 10_000 });
  agent = made.agent;
  await agent.start();
  server = await startAgentServer({ address: '127.0.0.1:0', tls: pki.server, handlers: createAgentHandlers(agent, made.stage, silentLogger()), logger: silentLogger() });
  probe = new AgentConnection({ address: `127.0.0.1:${server.port}`, tls: pki.client });
  await writeFile(path.join(tmp, 'inventory.yaml'), `agents:\n  - name: node-1\n    address: 127.0.0.1:${server.port}\n`);
  await mkdir(path.join(tmp, 'releases', 'v1.11.10'), { recursive: true });
  await writeFile(path.join(tmp, 'releases', 'v1.11.10', 'kubelet'), fakeBinary('v1.11.10'), { mode: 0o755 });
}, 60_000);

afterAll(async () => {
  probe?.close();
  await server?.shutdown(2_000);
  await h?.cleanup();
  await rm(tmp, { recursive: true, force: true });
});

/** A cluster whose one Node reports the kubelet the real agent runs (as the kubelet would). */
function agentBackedCluster(): ClusterApi {
  const nodes = async (): Promise<V1Node[]> => {
    const info = await probe.getNode();
    return [{ metadata: { name: 'node-1', labels: {} }, status: { nodeInfo: { kubeletVersion: info.kubeletVersion } as NonNullable<V1Node['status']>['nodeInfo'], conditions: [{ type: 'Ready', status: 'True' }] } }];
  };
  return {
    server: 'https://agent-test', version: async () => 'v1.11.10', nodes, pods: async () => [], podTree: async () => parseJson('{"items":[]}', 'pods'),
    annotateNode: async () => undefined, labelNode: async () => undefined, nodeEvent: async () => undefined, lock: memoryLock(),
    annotatePod: async () => undefined, apiserverStatus: async () => ({ ready: true, version: 'v1.11.10' }),
  };
}

describe('kip upgrade over the real agent', () => {
  it('stages the kubelet from --releases (sha256 checked by the agent), upgrades it through the agent, and journals the agent run id', async () => {
    const cluster = agentBackedCluster();
    const real = productionPorts(recordingIo());
    const ports: CliPorts = { ...real, cluster: async () => cluster, openStore: (d) => openSqliteStore(path.join(d, 'runs.db')), clock: systemClock, logger: silentLogger(), identity: 'test/1', pollMs: 50 };
    const io = recordingIo();
    const code = await main(['upgrade', '--to', 'v1.11.10', '--releases', path.join(tmp, 'releases'), '--pki-dir', path.join(tmp, 'pki'), '--inventory', path.join(tmp, 'inventory.yaml'),
      '--state-dir', path.join(tmp, 'state'), '--kubeconfig', '/dev/null', '--ready-timeout', '30'], { ...io, readInput: async (p) => (await import('node:fs/promises')).readFile(p, 'utf8') }, ports);
    expect(code, io.err).toBe(0);
    const info = await probe.getNode();
    expect(info.kubeletVersion).toBe('v1.11.10');
    expect(info.staged.map((s) => s.version)).toContain('v1.11.10');
    const store = openSqliteStore(path.join(tmp, 'state', 'runs.db'));
    const [rec] = store.nodes(store.latestRun()!.id);
    expect(rec).toMatchObject({ node: 'node-1', phase: 'succeeded', attempt: 1 });
    expect(info.lastRunId).toBe(rec!.agentRunId);
    expect((await probe.getRun(rec!.agentRunId)).phase).toBe('RUN_SUCCEEDED');
    store.close();
  }, 120_000);

  it('exits 2, changing nothing, for an inventory agent that does not answer and for an unreadable --pki-dir', async () => {
    await writeFile(path.join(tmp, 'dead.yaml'), 'agents:\n  - name: w9\n    address: 127.0.0.1:1\n');
    const behind: ClusterApi = { ...agentBackedCluster(), nodes: async () => [{ metadata: { name: 'w9' }, status: { nodeInfo: { kubeletVersion: 'v1.10.13' } as NonNullable<V1Node['status']>['nodeInfo'], conditions: [{ type: 'Ready', status: 'True' }] } }] };
    const real = productionPorts(recordingIo());
    const ports: CliPorts = { ...real, cluster: async () => behind, logger: silentLogger() };
    const readInput = async (p: string) => (await import('node:fs/promises')).readFile(p, 'utf8');
    const args = (pkiDir: string) => ['upgrade', '--to', 'v1.11.10', '--pki-dir', pkiDir, '--inventory', path.join(tmp, 'dead.yaml'), '--state-dir', path.join(tmp, 'state2'), '--kubeconfig', '/dev/null'];
    const io = recordingIo();
    expect(await main(args(path.join(tmp, 'pki')), { ...io, readInput }, ports)).toBe(2);
    expect(io.err).toMatch(/agent not answering: w9 \(/);
    const bad = recordingIo();
    expect(await main(args(path.join(tmp, 'nope')), { ...bad, readInput }, ports)).toBe(2);
    expect(bad.err).toMatch(/--pki-dir .*nope: cannot read ca\.crt \(ENOENT\)/);
    const malformed = recordingIo();
    await writeFile(path.join(tmp, 'bad.yaml'), 'agents: [{name: w9, address: "no port"}]\n');
    expect(await main([...args(path.join(tmp, 'pki')).slice(0, 5), '--inventory', path.join(tmp, 'bad.yaml'), '--kubeconfig', '/dev/null'], { ...malformed, readInput }, ports)).toBe(2);
    expect(malformed.err).toMatch(/agents\[0\]\.address must be host:port/);
  }, 60_000);

  it('kip stage sends what the next step needs, verified by the agent, and skips it the second time; a missing release exits 2 first', async () => {
    const cluster: ClusterApi = { ...agentBackedCluster(), version: async () => 'v1.12.10' };
    const real = productionPorts(recordingIo());
    const ports: CliPorts = { ...real, cluster: async () => cluster, logger: silentLogger() };
    const readInput = async (p: string) => (await import('node:fs/promises')).readFile(p, 'utf8');
    const args = ['stage', '--to', 'v1.12.10', '--releases', path.join(tmp, 'releases'), '--pki-dir', path.join(tmp, 'pki'), '--inventory', path.join(tmp, 'inventory.yaml'), '--kubeconfig', '/dev/null'];
    const missing = recordingIo();
    expect(await main(args, { ...missing, readInput }, ports)).toBe(2);
    expect(missing.err).toMatch(/has no folder for v1\.12\.10/);
    await mkdir(path.join(tmp, 'releases', 'v1.12.10'), { recursive: true });
    await writeFile(path.join(tmp, 'releases', 'v1.12.10', 'kubelet'), fakeBinary('v1.12.10'), { mode: 0o755 });
    const first = recordingIo();
    expect(await main(args, { ...first, readInput }, ports), first.err).toBe(0);
    expect(first.out).toMatch(/node-1 +v1\.12\.10 +staged/);
    expect((await probe.getNode()).staged.map((s) => s.version)).toContain('v1.12.10');
    const again = recordingIo();
    expect(await main(args, { ...again, readInput }, ports)).toBe(0);
    expect(again.out).toMatch(/node-1 +v1\.12\.10 +already staged/);
  }, 60_000);
});
