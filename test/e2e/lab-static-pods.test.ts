/**
 * End to end: `kip-lab up --control-plane static-pods` (kubeadm's layout). The control-plane
 * node's own kubelet runs kube-apiserver, kube-scheduler and kube-controller-manager from
 * /etc/kubernetes/manifests, each the lab program of its image tag; its kip-agent reports them as
 * static pods with their versions; rewriting the apiserver manifest's image tag (what the agent's
 * static-pod swap does) makes the kubelet run the new version. Then `kip-lab down`.
 */
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execaExec, type ExecResult } from '../../lib/exec.ts';
import { KubeClient } from '../../lib/kube/index.ts';
import { waitFor } from '../../lib/poll.ts';
import { AgentConnection } from '../../coordinator/fleet/client.ts';
import { readLabState, type LabState } from '../../scripts/lab/lab.ts';

const REPO = path.resolve(import.meta.dirname, '..', '..');
const PREFIX = '127.0.94';
let stateDir = '';
let upResult: ExecResult | undefined;
let state: LabState | undefined;

function kip(args: string[], timeoutMs: number): Promise<ExecResult> {
  return execaExec(process.execPath, [path.join(REPO, 'bin/kip-lab.mjs'), ...args, '--state-dir', stateDir], { timeoutMs, cwd: REPO });
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
    const s = lab();
    const pki = s.kip?.pkiDir ?? '';
    const conn = new AgentConnection({ address: `${PREFIX}.10:7443`, tls: { ca: await readFile(path.join(pki, 'ca.crt')), cert: await readFile(path.join(pki, 'coordinator.crt')), key: await readFile(path.join(pki, 'coordinator.key')) } });
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

  it('a rewritten image tag runs the new apiserver (the kubelet replaces the static pod)', async () => {
    const s = lab();
    const cp = s.nodes.find((n) => n.role === 'control-plane');
    const manifest = path.join(cp?.root ?? '', 'etc/kubernetes/manifests/kube-apiserver.yaml');
    const text = await readFile(manifest, 'utf8');
    expect(text).toContain('image: k8s.gcr.io/kube-apiserver-amd64:v1.10.13');
    await writeFile(`${manifest}.new`, text.replace('kube-apiserver-amd64:v1.10.13', 'kube-apiserver-amd64:v1.11.10'));
    await rename(`${manifest}.new`, manifest);
    const kube = KubeClient.fromFile(s.kubeconfig ?? '');
    await waitFor('the apiserver to answer as v1.11.10', async () => ((await kube.getVersion().catch(() => undefined))?.gitVersion === 'v1.11.10' ? true : undefined), { timeoutMs: 90_000 });
    const mirror = await waitFor('the new mirror pod', async () => {
      const p = (await kube.listPods({ namespace: 'kube-system' })).items.find((x) => x.metadata?.name === 'kube-apiserver-control-plane');
      return p?.spec?.containers[0]?.image === 'k8s.gcr.io/kube-apiserver-amd64:v1.11.10' && p.status?.phase === 'Running' ? p : undefined;
    }, { timeoutMs: 60_000 });
    expect(mirror.metadata?.annotations?.['kubernetes.io/config.mirror']).toBeTruthy();
  }, 180_000);
});
