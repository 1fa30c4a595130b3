/**
 * `kip-lab up --agents role` (scripts/lab/agents-role.ts): the lab's agent.yaml fields become the
 * kip_agent role's typed variables (the rest kip_agent_config), every node is reached by nsenter,
 * and the options reach the supervisor; bad input is refused naming the flag.
 */
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { artifactOnNodes, issueLabCertificates, roleHostVars, roleInventory } from '../../scripts/lab/agents-role.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { X509Certificate } from 'node:crypto';
import { readCheckedTls } from '../../lib/pki/files.ts';
import { systemClock } from '../../lib/clock.ts';
import { agentConfigFields, controlPlaneAgentConfigFields, renderAgentConfig } from '../../scripts/lab/node-config.ts';
import { parseSupervisorArgs } from '../../scripts/lab/supervisor.ts';

const REPO = path.resolve(import.meta.dirname, '..', '..');

describe('the lab agents as role variables', () => {
  it('maps a worker agent.yaml onto the typed variables and keeps the rest in kip_agent_config', () => {
    const fields = agentConfigFields({ nodeName: 'worker-1', address: '127.0.35.11' });
    const vars = roleHostVars({ name: 'worker-1', group: 'workers', address: '127.0.35.11', leaderPid: 4242, fields });
    expect(vars).toMatchObject({
      ansible_connection: 'kip_nsenter',
      ansible_pipelining: true,
      ansible_nsenter_pid: 4242,
      ansible_host: '127.0.35.11',
      kip_agent_port: 7443,
      kip_agent_listen: '127.0.35.11:7443',
      kip_agent_node_name: 'worker-1',
      kip_agent_kubelet_binary: '/usr/bin/kubelet',
      kip_agent_kubelet_unit: 'kubelet.service',
      kip_agent_kubelet_healthz_url: 'http://127.0.35.11:10248/healthz',
      kip_agent_skip_file: '/tmp/cache.version.save',
      kip_agent_kubeconfig: '/etc/kubernetes/kubelet.conf',
      kip_agent_cri_endpoint: 'unix:///run/containerd/containerd.sock',
      kip_agent_config: { consistencyIntervalMs: 10000, stableMs: 3000 },
    });
    // TLS paths are the role's own: none leaks into kip_agent_config.
    expect(Object.keys(vars).filter((k) => /tls/i.test(k))).toEqual([]);
  });

  it('gives the control-plane agent its components and etcd endpoints', () => {
    const fields = controlPlaneAgentConfigFields({ nodeName: 'control-plane', address: '127.0.35.10' });
    const vars = roleHostVars({ name: 'control-plane', group: 'control_plane', address: '127.0.35.10', leaderPid: 1, fields });
    expect(vars.kip_agent_components).toEqual([
      'kube-apiserver=unit:kube-apiserver.service:/usr/bin/kube-apiserver@https://127.0.35.10:6443/healthz',
      'kube-controller-manager=unit:kube-controller-manager.service:/usr/bin/kube-controller-manager@http://127.0.35.10:10252/healthz',
      'kube-scheduler=unit:kube-scheduler.service:/usr/bin/kube-scheduler@http://127.0.35.10:10251/healthz',
    ]);
    expect(vars.kip_agent_etcd_endpoints).toEqual(['http://127.0.35.10:2379']);
    // the lab's own rendering of the same fields is unchanged YAML
    expect(parseYaml(renderAgentConfig(fields))).toMatchObject({ components: vars.kip_agent_components, etcdEndpoints: ['http://127.0.35.10:2379'], stableMs: 3000 });
  });

  it('refuses a TLS path the role would not install', () => {
    expect(() => roleHostVars({ name: 'w', group: 'workers', address: '127.0.0.1', leaderPid: 1, fields: { tlsCert: '/elsewhere.crt' } })).toThrow(/tlsCert at \/etc\/kip\/pki\/agent\.crt/);
  });

  it('every variable it sets is declared in the role argument_specs', async () => {
    const specs = parseYaml(await readFile(path.join(REPO, 'scripts/ansible/roles/kip_agent/meta/argument_specs.yml'), 'utf8')) as { argument_specs: { main: { options: Record<string, unknown> } } };
    const declared = Object.keys(specs.argument_specs.main.options);
    const inv = parseYaml(roleInventory({
      hosts: [
        { name: 'control-plane', group: 'control_plane', address: '127.0.35.10', leaderPid: 1, fields: controlPlaneAgentConfigFields({ nodeName: 'control-plane', address: '127.0.35.10' }) },
        { name: 'worker-1', group: 'workers', address: '127.0.35.11', leaderPid: 2, fields: agentConfigFields({ nodeName: 'worker-1', address: '127.0.35.11', runtime: 'docker' }) },
      ],
      artifact: '/a', kipCli: '/k', pkiDir: '/p', certsIssued: true,
    })) as { all: { vars: Record<string, unknown>; hosts: Record<string, Record<string, unknown>>; children: Record<string, { hosts: Record<string, unknown> }> } };
    expect(inv.all.children).toEqual({ control_plane: { hosts: { 'control-plane': {} } }, workers: { hosts: { 'worker-1': {} } } });
    // /a is outside the repository the nodes see: the controller copies it; the lab issued the certificates.
    expect(inv.all.vars).toEqual({ kip_agent_artifact: '/a', kip_agent_kip_cli: '/k', kip_agent_pki_dir: '/p', kip_agent_issue_certs: false });
    expect(inv.all.hosts['worker-1']?.kip_agent_cri_endpoint).toBe('auto');
    for (const host of Object.values(inv.all.hosts)) for (const k of Object.keys(host).filter((x) => x.startsWith('kip_agent_'))) expect(declared, k).toContain(k);
  });

  it('lets the nodes copy an artifact inside the bind-mounted repository themselves, and only that', () => {
    expect(artifactOnNodes(path.join(REPO, 'dist/kip-agent-linux-x64'), REPO)).toBe(path.join(REPO, 'dist/kip-agent-linux-x64'));
    expect(artifactOnNodes('/opt/kip-agent', REPO)).toBeUndefined();
    expect(artifactOnNodes(`${REPO}-other/dist/kip-agent`, REPO)).toBeUndefined();
    expect(artifactOnNodes(REPO, REPO)).toBeUndefined();
    const inv = parseYaml(roleInventory({ hosts: [], artifact: path.join(REPO, 'dist/kip-agent-linux-x64'), kipCli: '/k', pkiDir: '/p' })) as { all: { vars: Record<string, unknown> } };
    expect(inv.all.vars).toMatchObject({ kip_agent_artifact_node_path: path.join(REPO, 'dist/kip-agent-linux-x64') });
    expect(inv.all.vars.kip_agent_issue_certs).toBeUndefined();
  });

  it('issues the role PKI in one go: agent certificates with the node IP and name, signed by the CA, keys matching', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kip-lab-role-pki-'));
    try {
      await issueLabCertificates(dir, [{ name: 'worker-1', group: 'workers', address: '127.0.35.11', leaderPid: 1, fields: {} }], systemClock);
      for (const base of ['agent-worker-1', 'coordinator-kip-lab', 'viewer-kip-ansible']) {
        await readCheckedTls({ ca: path.join(dir, 'ca.crt'), cert: path.join(dir, `${base}.crt`), key: path.join(dir, `${base}.key`) });
      }
      const cert = new X509Certificate(await readFile(path.join(dir, 'agent-worker-1.crt')));
      expect(cert.subjectAltName).toMatch(/IP Address:127\.0\.35\.11/);
      expect(cert.subjectAltName).toMatch(/DNS:worker-1/);
      expect(cert.checkIssued(new X509Certificate(await readFile(path.join(dir, 'ca.crt'))))).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('passes --agents role and its artifacts to the supervisor, and refuses a bad mode', () => {
    expect(parseSupervisorArgs(['--state-dir', '/tmp/x']).agents).toBe('lab');
    expect(parseSupervisorArgs(['--state-dir', '/tmp/x', '--agents', 'role', '--agent-artifact', 'dist/a', '--kip-cli', '/k'])).toMatchObject({ agents: 'role', agentArtifact: path.resolve('dist/a'), kipCli: '/k' });
    expect(() => parseSupervisorArgs(['--state-dir', '/tmp/x', '--agents', 'ansible'])).toThrow(/--agents must be lab or role, got ansible/);
  });
});
