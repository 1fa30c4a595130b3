/**
 * Node components under a real systemd (systemd-nspawn): the agent discovers a kube-scheduler
 * unit and a kube-controller-manager static pod manifest, holds both, and the holds survive an
 * agent kill -9 and a restart of the whole node, until Release starts the scheduler again and
 * puts the manifest back (and, with no kubelet here to run it, says the pod is not healthy). Bad
 * names are refused with their codes.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootNode, ensureBaseImage, type NspawnNode } from '../../scripts/nspawn/index.ts';
import { AgentCallError } from '../../coordinator/fleet/errors.ts';
import { bootAgentNode, freePort, repoBinds, type AgentNode } from '../../scripts/nspawn/agent-node.ts';

const SCHEDULER = (version: string) =>
  [
    '#!/usr/bin/python3',
    'import sys, http.server',
    'if "--version" in sys.argv:',
    `    print("Kubernetes ${version}")`,
    '    sys.exit(0)',
    'port = 10251',
    'for a in sys.argv[1:]:',
    '    if a.startswith("--port="):',
    '        port = int(a.split("=", 1)[1])',
    'class H(http.server.BaseHTTPRequestHandler):',
    '    def do_GET(self):',
    '        self.send_response(200)',
    '        self.end_headers()',
    '        self.wfile.write(b"ok")',
    '    def log_message(self, *args):',
    '        pass',
    'http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()',
    '',
  ].join('\n');

const CM_MANIFEST = 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-controller-manager\n  namespace: kube-system\nspec:\n  hostNetwork: true\n  containers:\n  - name: kube-controller-manager\n    image: k8s.gcr.io/kube-controller-manager:v1.12.10\n    command:\n    - kube-controller-manager\n    - --leader-elect=true\n';

let an: AgentNode;
let node: NspawnNode;
let schedPort: number;

async function put(root: string, p: string, data: string, mode = 0o644) {
  await mkdir(path.dirname(path.join(root, p)), { recursive: true });
  await writeFile(path.join(root, p), data, { mode });
}

async function inNode(cmd: string): Promise<string> {
  const r = await node.exec('sh', ['-c', cmd], { timeoutMs: 60_000 });
  return `${r.stdout}`.trim();
}

beforeAll(async () => {
  an = await bootAgentNode({ name: 'kip-comp-it', kubeletVersion: 'v1.12.10' });
  node = an.node;
  schedPort = await freePort();
  await put(node.root, '/usr/bin/kube-scheduler', SCHEDULER('v1.12.10'), 0o755);
  await put(node.root, '/etc/systemd/system/kube-scheduler.service', `[Unit]\nDescription=stand-in kube-scheduler\n[Service]\nExecStart=/usr/bin/kube-scheduler --port=${schedPort} --leader-elect=true\nRestart=always\nRestartSec=1\n[Install]\nWantedBy=multi-user.target\n`);
  await put(node.root, '/etc/kubernetes/manifests/kube-controller-manager.yaml', CM_MANIFEST, 0o600);
  await an.sh('systemctl daemon-reload && systemctl enable kip-agent.service kubelet.service kube-scheduler.service && systemctl start kube-scheduler.service');
  await an.waitFor('kube-scheduler active', async () => ((await inNode('systemctl is-active kube-scheduler.service')) === 'active' ? true : undefined), 30_000);
}, 180_000);

afterAll(async () => {
  await node?.stop();
  await an?.stop();
}, 120_000);

const codeOf = async (p: Promise<unknown>): Promise<string | undefined> => {
  const e = await p.then(() => undefined, (err: unknown) => err);
  return e instanceof AgentCallError ? e.code : String(e);
};

describe('components under a real systemd', () => {
  it('GetNode lists the components the node runs, with versions and health probes', async () => {
    const n = await an.client.getNode();
    expect(n.components.map((c) => [c.name, c.runtime, c.version, c.held])).toEqual([
      ['kubelet', 'systemd', 'v1.12.10', false],
      ['kube-controller-manager', 'static-pod', 'v1.12.10', false],
      ['kube-scheduler', 'systemd', 'v1.12.10', false],
    ]);
    const sched = n.components.find((c) => c.name === 'kube-scheduler');
    expect(sched).toMatchObject({ unit: 'kube-scheduler.service', binary: '/usr/bin/kube-scheduler', healthUrl: `http://127.0.0.1:${schedPort}/healthz`, origin: 'discovered' });
    expect(n.componentsError).toBe('');
  });

  it('a manifest that does not parse is reported in GetNode without failing it, and Hold refuses', async () => {
    await put(node.root, '/etc/kubernetes/manifests/kube-apiserver.yaml', 'apiVersion: v1\nkind: Pod\nspec: [\n');
    try {
      const n = await an.client.getNode();
      expect(n.kubeletVersion).toBe('v1.12.10');
      expect(n.components).toEqual([]);
      expect(n.componentsError).toMatch(/^MANIFEST_INVALID: static pod manifest \/etc\/kubernetes\/manifests\/kube-apiserver.yaml: not valid YAML/);
      expect(await codeOf(an.client.hold('kube-apiserver'))).toBe('MANIFEST_INVALID');
      expect(await inNode('systemctl is-active kube-scheduler.service')).toBe('active');
      // Another component is still reachable: its call does not read the broken manifest.
      expect(await codeOf(an.client.hold('kube-proxy'))).toBe('COMPONENT_NOT_ON_NODE');
    } finally {
      await an.sh('rm -f /etc/kubernetes/manifests/kube-apiserver.yaml');
    }
  });

  it('refuses the kubelet, an unknown name and a component the node does not run', async () => {
    expect(await codeOf(an.client.hold('kubelet'))).toBe('HOLD_REFUSED');
    expect(await codeOf(an.client.hold('kube-dns'))).toBe('COMPONENT_UNKNOWN');
    expect(await codeOf(an.client.hold('kube-proxy'))).toBe('COMPONENT_NOT_ON_NODE');
    expect(await codeOf(an.client.release('kubelet'))).toBe('HOLD_REFUSED');
  });

  it('holds survive an agent kill -9 and a node restart; release undoes them', async () => {
    const h = await an.client.hold('kube-scheduler');
    expect(h).toMatchObject({ component: 'kube-scheduler', runtime: 'systemd', phase: 'held', changed: true });
    expect(await inNode('systemctl is-active kube-scheduler.service')).toBe('inactive');
    expect((await an.client.hold('kube-scheduler')).changed).toBe(false);
    // Something else starting it does not undo the hold.
    await an.sh('systemctl start kube-scheduler.service');
    expect(await inNode('systemctl is-active kube-scheduler.service')).toBe('inactive');

    const cm = await an.client.hold('kube-controller-manager');
    expect(cm).toMatchObject({ runtime: 'static-pod', phase: 'held', heldManifest: '/etc/kubernetes/kip-held/kube-controller-manager.yaml' });
    expect(await inNode('ls /etc/kubernetes/manifests')).toBe('');
    expect(await inNode('cat /etc/kubernetes/kip-held/kube-controller-manager.yaml')).toBe(CM_MANIFEST.trim());

    // kill -9 the agent: systemd restarts it and it reconciles the journaled holds.
    const pid = await an.mainPid('kip-agent.service');
    await an.sh('systemctl kill -s KILL kip-agent.service');
    await an.waitFor('a new agent process', async () => {
      const p = await an.mainPid('kip-agent.service');
      return p !== 0 && p !== pid ? p : undefined;
    }, 30_000);
    await an.waitAgentUp();
    expect(await inNode('systemctl is-active kube-scheduler.service')).toBe('inactive');
    const afterKill = await an.client.getNode();
    expect(afterKill.components.filter((c) => c.held).map((c) => [c.name, c.holdPhase])).toEqual([
      ['kube-controller-manager', 'held'],
      ['kube-scheduler', 'held'],
    ]);

    // Restart the whole node: same disk (overlay upper), fresh systemd; enabled units start at boot.
    await node.stop();
    node = await bootNode({ name: 'kip-comp-it', base: await ensureBaseImage(), workDir: node.workDir, bindRo: repoBinds() });
    await node.waitForSystemd(90_000);
    await an.waitFor('the agent after the node restart', async () => ((await inNode('systemctl is-active kip-agent.service')) === 'active' ? true : undefined), 60_000);
    await an.waitAgentUp();
    expect(await inNode('systemctl is-active kubelet.service')).toBe('active');
    expect(await inNode('systemctl is-active kube-scheduler.service')).toBe('inactive');
    expect(await inNode('ls /etc/kubernetes/manifests')).toBe('');
    const afterBoot = await an.client.getNode();
    expect(afterBoot.components.filter((c) => c.held).map((c) => c.name)).toEqual(['kube-controller-manager', 'kube-scheduler']);

    const r = await an.client.release('kube-scheduler');
    expect(r).toMatchObject({ component: 'kube-scheduler', changed: true, started: true });
    expect(await inNode('systemctl is-active kube-scheduler.service')).toBe('active');
    expect(await inNode('ls /etc/systemd/system/kube-scheduler.service.d 2>/dev/null || true')).toBe('');
    expect((await an.client.release('kube-scheduler')).changed).toBe(false);
    // Release puts the manifest back and waits for the pod to run healthy; this node's kubelet
    // runs no pods (and the agent reaches no runtime to see one), so the answer is COMPONENT_UNHEALTHY,
    // with the release itself done.
    const cmRelease = await an.client.release('kube-controller-manager').then(() => undefined, (err: unknown) => err);
    expect(cmRelease).toBeInstanceOf(AgentCallError);
    expect(cmRelease).toMatchObject({ code: 'COMPONENT_UNHEALTHY' });
    expect((cmRelease as Error).message).toMatch(/kube-controller-manager v1\.12\.10 did not run healthy after Release \(.*(unavailable|no container runtime)/);
    expect(await inNode('cat /etc/kubernetes/manifests/kube-controller-manager.yaml')).toBe(CM_MANIFEST.trim());
    expect((await an.client.release('kube-controller-manager')).changed).toBe(false);
    expect((await an.client.getNode()).components.filter((c) => c.held)).toEqual([]);
  }, 300_000);
});
