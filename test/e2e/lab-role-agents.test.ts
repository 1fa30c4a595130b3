/**
 * End to end: `kip-lab up --agents role` (1 control plane + 1 containerd worker at v1.13.12, hash
 * oracle) installs every kip-agent with the Ansible role and the packaged artifact (real
 * ansible-playbook over nsenter, the hardened Type=notify unit, certificates from `kip pki issue
 * --agent`). Then: `kip ping` answers for every node with the lab's coordinator certificate; the
 * control-plane agent manages kube-apiserver, kube-scheduler and kube-controller-manager and the
 * worker's the kubelet and kube-proxy; and one patched kubelet Upgrade v1.13.12 -> v1.14.10
 * through the role-installed agent restarts nothing, judged from containerd itself (every
 * container and sandbox the same id and state, none new) after the new kubelet's first sync.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execaExec } from '../../lib/exec.ts';
import { AgentConnection } from '../../coordinator/fleet/client.ts';
import { upgradeNode } from '../../coordinator/rollout/node-upgrade.ts';
import { createCriClient } from '../../agent/runtime/cri.ts';
import { launcherScript } from '../../scripts/lab/kubelet/launcher.ts';
import { AGENT_PORT, KUBELET_HEALTHZ_PORT, SKIP_FILE } from '../../scripts/lab/node-config.ts';
import { labRuntime, nodeExec, readLabState, type LabNodeRecord } from '../../scripts/lab/lab.ts';
import { readSyncReport } from '../../scripts/lab/kubelet/sync-report.ts';
import { waitFirstSync } from '../../scripts/demo/demo.ts';
import { systemClock } from '../../lib/clock.ts';
import { LabSession } from './lab-session.ts';
import { cachedAgentArtifact, cachedKipArtifact } from '../../scripts/package/cached.ts';
import { KubeClient } from '../../lib/kube/index.ts';
import { SELECTOR_LABEL } from '../../scripts/lab/workloads.ts';

const PREFIX = '127.0.97';
const FROM = 'v1.13.12';
const TO = 'v1.14.10';
const session = new LabSession();
let kip = '';
const figures: Record<string, unknown> = {};

function node(name: string): LabNodeRecord {
  const n = session.lab().nodes.find((x) => x.name === name);
  if (!n?.leaderPid) throw new Error(`no node ${name}`);
  return n;
}

async function sh(name: string, cmd: string): Promise<string> {
  const r = await nodeExec(execaExec, node(name).leaderPid!, 'sh', ['-c', cmd], 30_000);
  return r.stdout.trim();
}

async function agent(name: string): Promise<AgentConnection> {
  const s = session.lab();
  const tls = { ca: await readFile(s.agentPki!.ca), cert: await readFile(s.agentPki!.cert), key: await readFile(s.agentPki!.key) };
  return new AgentConnection({ address: `${node(name).address}:${AGENT_PORT}`, tls, maxRetries: 3, backoffMs: 500 });
}

/** What containerd holds for the worker: every container and sandbox with its state. */
async function runtimeView(name: string): Promise<{ containers: string[]; sandboxes: string[] }> {
  const cri = createCriClient({ address: `unix://${node(name).containerd!.socket}` });
  try {
    const containers = (await cri.listContainers()).map((c) => `${c.labels['io.kubernetes.pod.namespace'] ?? ''}/${c.labels['io.kubernetes.pod.name'] ?? ''}/${c.name}#${c.attempt} ${c.id} ${c.state}`).sort();
    const sandboxes = (await cri.listPodSandboxes()).map((p) => `${p.namespace}/${p.name}#${p.attempt} ${p.id} ${p.state}`).sort();
    return { containers, sandboxes };
  } finally {
    cri.close();
  }
}

beforeAll(async () => {
  session.stateDir = await mkdtemp(path.join(tmpdir(), 'kip-e2e-role-'));
  const built = performance.now();
  const [agentExe, kipExe] = [await cachedAgentArtifact(), await cachedKipArtifact()];
  kip = kipExe;
  figures.artifactsMs = Math.round(performance.now() - built);
  const started = performance.now();
  session.upResult = await session.kipLab(['up', '--workers', '1', '--workloads', 'small', '--hashes', 'vectors', '--version', FROM, '--runtime', 'containerd', '--address-prefix', PREFIX, '--sync-interval', '1000',
    '--agents', 'role', '--agent-artifact', agentExe, '--kip-cli', kipExe, '--timeout', '840'], 900_000);
  figures.upWallMs = Math.round(performance.now() - started);
  session.state = await readLabState(session.stateDir);
  const run = JSON.parse(await readFile(path.join(session.stateDir, 'ansible', 'last-run.json'), 'utf8').catch(() => '{}')) as { durationMs?: number; stats?: unknown };
  figures.playbookMs = run.durationMs;
  figures.playbookStats = run.stats;
}, 960_000);

afterAll(async () => {
  process.stdout.write(`lab-role-agents figures: ${JSON.stringify(figures)}\n`);
  if (session.stateDir) {
    const down = await session.kipLab(['down'], 240_000);
    expect(down.exitCode, down.stdout + down.stderr).toBe(0);
    await rm(session.stateDir, { recursive: true, force: true });
  }
}, 260_000);

describe('kip-lab up --agents role', () => {
  it('installed every agent with the role: the artifact under the hardened notify unit, its config managed by Ansible', async () => {
    const s = session.lab();
    expect(s.nodes.map((n) => [n.name, n.agentByRole])).toEqual([['control-plane', true], ['worker-1', true]]);
    for (const n of s.nodes) {
      expect(await sh(n.name, 'systemctl is-active kip-agent.service')).toBe('active');
      const props = Object.fromEntries((await sh(n.name, 'systemctl show -p Type -p FragmentPath -p NRestarts kip-agent.service')).split('\n').map((l) => l.split('=', 2)));
      expect(props).toEqual({ Type: 'notify', FragmentPath: '/etc/systemd/system/kip-agent.service', NRestarts: '0' });
      expect(await sh(n.name, 'readlink /proc/$(systemctl show -p MainPID --value kip-agent.service)/exe')).toBe('/usr/local/bin/kip-agent');
      expect(await sh(n.name, 'head -1 /etc/kip/agent.yaml')).toMatch(/Managed by Ansible/);
      expect(await sh(n.name, 'stat -c %a /etc/kip/pki/agent.key')).toBe('600');
    }
  });

  it('kip ping answers for every node with the lab coordinator certificate', async () => {
    const pki = session.lab().kip!.pkiDir;
    for (const n of session.lab().nodes) {
      const r = await execaExec(kip, ['ping', `${n.address}:${AGENT_PORT}`, '--pki-dir', pki, '--timeout', '60', '-o', 'json'], { timeoutMs: 90_000 });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ address: `${n.address}:${AGENT_PORT}`, nodeName: n.name });
    }
  }, 240_000);

  it('the control-plane agent manages the control plane and the worker agent the kubelet and kube-proxy', async () => {
    const cp = await agent('control-plane');
    const w = await agent('worker-1');
    try {
      const comps = (info: Awaited<ReturnType<AgentConnection['getNode']>>) => Object.fromEntries((info.components ?? []).map((c) => [c.name, `${c.runtime} ${c.unit} ${c.version}`]));
      expect(comps(await cp.getNode())).toEqual({
        'kube-apiserver': `systemd kube-apiserver.service ${FROM}`,
        'kube-controller-manager': `systemd kube-controller-manager.service ${FROM}`,
        'kube-scheduler': `systemd kube-scheduler.service ${FROM}`,
      });
      expect(comps(await w.getNode())).toMatchObject({ kubelet: `systemd kubelet.service ${FROM}`, 'kube-proxy': `systemd kube-proxy.service ${FROM}` });
    } finally {
      cp.close();
      w.close();
    }
  }, 120_000);

  it(`upgrades worker-1's patched kubelet ${FROM} -> ${TO} through the role-installed agent: containerd shows nothing restarted`, async () => {
    const a = await agent('worker-1');
    try {
      // The lab took the nodeSelector label of reports/legacy-reports-0 off worker-1 (its preflight
      // case): any kubelet restart re-admits pods and kills that one (MatchNodeSelector), skip file
      // or not. Put it back so that every container must survive.
      await KubeClient.fromFile(session.lab().kubeconfig!).patchNode('worker-1', { metadata: { labels: { [SELECTOR_LABEL.key]: SELECTOR_LABEL.value } } }, 'merge');
      const agentPid = await sh('worker-1', 'systemctl show -p MainPID --value kip-agent.service');
      const before = await runtimeView('worker-1');
      expect(before.containers.filter((c) => c.endsWith(' running')).length).toBeGreaterThan(0);
      const binary = Buffer.from(launcherScript({ version: TO, skipFilePath: SKIP_FILE, ...labRuntime(session.lab()) }));
      const t0 = performance.now();
      await a.stageBinary({ version: TO, sha256: createHash('sha256').update(binary).digest('hex'), size: binary.length }, binary);
      const result = await upgradeNode('worker-1', { upgrade: (req) => a.upgradeFollow(req) }, { runId: 'e2e-role-worker-1', targetVersion: TO, allowUnpatched: false });
      expect(result.outcome, `${result.errorCode}: ${result.message}\n${result.journalTail.join('\n')}`).toBe('succeeded');
      figures.upgradeMs = Math.round(performance.now() - t0);
      expect((await a.getNode()).kubeletVersion).toBe(TO);
      // Only after the new kubelet synced every pod may "nothing restarted" be said.
      await waitFirstSync(['worker-1'], TO, () => readSyncReport(node('worker-1').address, KUBELET_HEALTHZ_PORT), systemClock, 120_000);
      const after = await runtimeView('worker-1');
      expect(after).toEqual(before);
      expect(await sh('worker-1', `cat ${SKIP_FILE}`)).toMatch(new RegExp(`^${FROM.replace(/\./g, '\\.')},\\d+$`));
      // The agent did it without being restarted itself.
      expect(await sh('worker-1', 'systemctl show -p MainPID --value kip-agent.service')).toBe(agentPid);
    } finally {
      a.close();
    }
  }, 300_000);
});
