/**
 * End to end: `kip-lab up --control-plane static-pods` (kubeadm's layout). The control-plane
 * node's own kubelet runs kube-apiserver, kube-scheduler and kube-controller-manager from
 * /etc/kubernetes/manifests, each the lab program of its image tag; its kip-agent reports them as
 * static pods with their versions. Upgrade(component kube-apiserver) over the agent's gRPC (mTLS,
 * STATE/kip/pki) rewrites the manifest, the kubelet runs a new container of the new image and the
 * agent verifies it; Rollback restores the manifest byte for byte and the old version runs again.
 * The judge is the node's containerd (CRI ListContainers/ContainerStatus: container id and image)
 * and the apiserver's /version, never the agent's answer. Then `kip-lab down`.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execaExec, type ExecResult } from '../../lib/exec.ts';
import { KubeClient } from '../../lib/kube/index.ts';
import { waitFor } from '../../lib/poll.ts';
import { AgentConnection } from '../../coordinator/fleet/client.ts';
import { createCriClient } from '../../agent/runtime/cri.ts';
import { readLabState, type LabState } from '../../scripts/lab/lab.ts';

const REPO = path.resolve(import.meta.dirname, '..', '..');
const PREFIX = '127.0.94';
let stateDir = '';
let upResult: ExecResult | undefined;
let state: LabState | undefined;

function kip(args: string[], timeoutMs: number): Promise<ExecResult> {
  return execaExec(process.execPath, [path.join(REPO, 'bin/kip-lab.mjs'), ...args, '--state-dir', stateDir], { timeoutMs, cwd: REPO });
}

/** The control-plane agent over mTLS with the coordinator certificate the lab writes (STATE/kip/pki). */
async function agentConnection(): Promise<AgentConnection> {
  const pki = lab().kip?.pkiDir ?? '';
  return new AgentConnection({ address: `${PREFIX}.10:7443`, tls: { ca: await readFile(path.join(pki, 'ca.crt')), cert: await readFile(path.join(pki, 'coordinator.crt')), key: await readFile(path.join(pki, 'coordinator.key')) } });
}

function lab(): LabState {
  if (!state) throw new Error(`the lab did not come up:\n${upResult?.stdout ?? ''}\n${upResult?.stderr ?? ''}`);
  return state;
}

beforeAll(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'kip-e2e-static-'));
  upResult = await kip(['up', '--control-plane', 'static-pods', '--workers', '1', '--workloads', 'small', '--address-prefix', PREFIX, '--sync-interval', '1000', '--timeout', '300'], 360_000);
  state = await readLabState(stateDir);
}, 380_000);

afterAll(async () => {
  if (stateDir) {
    const r = await kip(['down'], 240_000);
    if (r.exitCode !== 0) console.error(`kip-lab down failed: ${r.stdout}\n${r.stderr}`);
    await rm(stateDir, { recursive: true, force: true });
  }
}, 260_000);

describe('kip-lab --control-plane static-pods', () => {
  it('comes up with the control plane as static pods of the control-plane kubelet', async () => {
    expect(upResult?.exitCode, `${upResult?.stdout}\n${upResult?.stderr}`).toBe(0);
    const s = lab();
    const cp = s.nodes.find((n) => n.role === 'control-plane');
    expect(cp?.units).toEqual(['etcd.service', 'kubelet.service', 'kip-agent.service']);
    const kube = KubeClient.fromFile(s.kubeconfig ?? '');
    const node = await kube.getNode('control-plane');
    expect(node.status?.nodeInfo?.kubeletVersion).toBe('v1.10.13');
    const mirrors = (await kube.listPods({ namespace: 'kube-system' })).items.filter((p) => p.spec?.nodeName === 'control-plane');
    expect(mirrors.map((p) => [p.metadata?.name, p.spec?.containers[0]?.image, p.status?.phase]).sort()).toEqual([
      ['kube-apiserver-control-plane', 'k8s.gcr.io/kube-apiserver-amd64:v1.10.13', 'Running'],
      ['kube-controller-manager-control-plane', 'k8s.gcr.io/kube-controller-manager-amd64:v1.10.13', 'Running'],
      ['kube-scheduler-control-plane', 'k8s.gcr.io/kube-scheduler-amd64:v1.10.13', 'Running'],
    ]);
    for (const p of mirrors) expect(p.metadata?.annotations?.['kubernetes.io/config.mirror']).toBeTruthy();
  }, 60_000);

  it('the control-plane agent reports each as a static pod with its version and health URL', async () => {
    const conn = await agentConnection();
    try {
      const info = await conn.getNode();
      expect(info.componentsError).toBe('');
      expect(info.components.map((c) => [c.name, c.runtime, c.manifest, c.version])).toEqual([
        ['kubelet', 'systemd', '', 'v1.10.13'],
        ['kube-apiserver', 'static-pod', '/etc/kubernetes/manifests/kube-apiserver.yaml', 'v1.10.13'],
        ['kube-controller-manager', 'static-pod', '/etc/kubernetes/manifests/kube-controller-manager.yaml', 'v1.10.13'],
        ['kube-scheduler', 'static-pod', '/etc/kubernetes/manifests/kube-scheduler.yaml', 'v1.10.13'],
      ]);
      for (const c of info.components.filter((x) => x.healthUrl.startsWith('http:'))) expect((await fetch(c.healthUrl)).status, c.name).toBe(200);
    } finally {
      conn.close();
    }
  }, 60_000);

  it('the agent upgrades the static-pod kube-apiserver over gRPC (mTLS), and a Rollback restores the manifest byte for byte', async () => {
    const s = lab();
    const cp = s.nodes.find((n) => n.role === 'control-plane');
    const socket = cp?.containerd?.socket ?? '';
    expect(socket, 'the control-plane node has its own containerd').not.toBe('');
    const manifest = path.join(cp?.root ?? '', 'etc/kubernetes/manifests/kube-apiserver.yaml');
    const before = await readFile(manifest);
    expect(before.toString()).toContain('image: k8s.gcr.io/kube-apiserver-amd64:v1.10.13');
    const kube = KubeClient.fromFile(s.kubeconfig ?? '');
    // The judge is the runtime and the apiserver itself, never the agent's answer.
    const cri = createCriClient({ address: `unix://${socket}`, timeoutMs: 20_000 });
    const running = async () => {
      const cs = (await cri.listContainers({ labelSelector: { 'io.kubernetes.container.name': 'kube-apiserver' } })).filter((c) => c.labels['io.kubernetes.pod.name'] === 'kube-apiserver-control-plane' && c.state === 'running');
      if (cs.length !== 1) return undefined;
      const c = cs[0]!;
      const st = await cri.containerStatus(c.id);
      return { id: c.id, listed: c.image, status: st.image, imageRef: st.imageRef };
    };
    const served = async (v: string) => waitFor(`the apiserver to answer as ${v}`, async () => ((await kube.getVersion().catch(() => undefined))?.gitVersion === v ? true : undefined), { timeoutMs: 90_000 });
    const conn = await agentConnection();
    try {
      await served('v1.10.13');
      const old = await waitFor('the v1.10.13 apiserver container', running, { timeoutMs: 30_000 });
      expect(old).toMatchObject({ listed: 'k8s.gcr.io/kube-apiserver-amd64:v1.10.13', status: 'k8s.gcr.io/kube-apiserver-amd64:v1.10.13' });

      const events = [];
      for await (const ev of conn.upgrade({ runId: 'e2e-sp-apiserver', targetVersion: 'v1.11.10', component: 'kube-apiserver' })) events.push(ev);
      const last = events.at(-1);
      expect(last, JSON.stringify(events.filter((e) => e.errorCode || e.status === 'STEP_FAILED'))).toMatchObject({ step: 'DONE', phase: 'RUN_SUCCEEDED' });
      expect(events.find((e) => e.step === 'VERIFY' && e.status === 'STEP_DONE')?.message).toMatch(/^v1\.11\.10 active and healthy .*container [0-9a-f]{12} runs k8s\.gcr\.io\/kube-apiserver-amd64:v1\.11\.10/);
      const after = (await readFile(manifest)).toString();
      expect(after).toContain('image: k8s.gcr.io/kube-apiserver-amd64:v1.11.10');
      expect(after).not.toContain('v1.10.13');
      await served('v1.11.10');
      const upgraded = await waitFor('one running v1.11.10 apiserver container', async () => {
        const r = await running();
        return r && r.status.endsWith(':v1.11.10') ? r : undefined;
      }, { timeoutMs: 30_000 });
      expect(upgraded.id).not.toBe(old.id);
      expect(upgraded).toMatchObject({ listed: 'k8s.gcr.io/kube-apiserver-amd64:v1.11.10', status: 'k8s.gcr.io/kube-apiserver-amd64:v1.11.10' });
      expect(upgraded.imageRef).not.toBe(old.imageRef);
      const mirror = await waitFor('the new mirror pod', async () => {
        const p = (await kube.listPods({ namespace: 'kube-system' })).items.find((x) => x.metadata?.name === 'kube-apiserver-control-plane');
        return p?.spec?.containers[0]?.image === 'k8s.gcr.io/kube-apiserver-amd64:v1.11.10' && p.status?.phase === 'Running' ? p : undefined;
      }, { timeoutMs: 60_000 });
      expect(mirror.metadata?.annotations?.['kubernetes.io/config.mirror']).toBeTruthy();

      const rolled = await conn.rollback('e2e-sp-apiserver');
      expect(rolled.phase, rolled.errorMessage).toBe('RUN_ROLLED_BACK');
      expect((await readFile(manifest)).equals(before)).toBe(true);
      await served('v1.10.13');
      const back = await waitFor('one running v1.10.13 apiserver container', async () => {
        const r = await running();
        return r && r.status.endsWith(':v1.10.13') ? r : undefined;
      }, { timeoutMs: 30_000 });
      expect([old.id, upgraded.id]).not.toContain(back.id);
      expect(back).toMatchObject({ listed: 'k8s.gcr.io/kube-apiserver-amd64:v1.10.13', imageRef: old.imageRef });
    } finally {
      cri.close();
      conn.close();
    }
  }, 300_000);
});
