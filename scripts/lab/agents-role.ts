/**
 * `kip-lab up --agents role`: the lab installs its kip-agents as a user does, with the Ansible
 * role (scripts/ansible/roles/kip_agent) run by the real ansible-playbook against the lab's nspawn
 * nodes (community.docker.nsenter connection, no ssh), installing the packaged artifact
 * (dist/kip-agent-linux-x64, built by `npm run package` when missing), certificates the role has
 * `kip pki issue --agent` make per node, /etc/kip/agent.yaml and the hardened Type=notify unit
 * (scripts/systemd/kip-agent.service). The agent.yaml fields are the same ones the lab writes
 * itself in the default mode (node-config.ts), passed as the role's typed variables, so a real
 * cluster's inventory needs the same variables. STATE/ansible/inventory.yml is kept: with it
 * the same playbook upgrades or removes the lab's agents.
 *
 * Fast because most of the role's time on the lab's two loaded cores was Ansible's own cost per
 * task and host (~0.4 s of CPU each, measured with profile_tasks and /usr/bin/time): the lab
 * issues every certificate in this process with lib/pki (what `kip pki` runs) instead of one kip
 * process per host, the nodes copy the artifact from the repository they already see (bind mount,
 * kip_agent_artifact_node_path) instead of 88 MiB streamed per node, modules are pipelined
 * (connection_plugins/kip_nsenter.py) and every node runs in parallel (forks = nodes).
 */
import { realpathSync } from 'node:fs';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { stringify as toYaml } from 'yaml';
import type { Exec } from '../../lib/exec.ts';
import { AGENT_PATHS, AGENT_PORT, type AgentFields } from './node-config.ts';
import { LabError, REPO_DIR } from './lab.ts';
import { NSENTER_CONNECTION, runPlaybook, type PlaybookResult } from '../ansible/harness.ts';
import type { Clock } from '../../lib/clock.ts';
import { writePem } from '../../lib/pki/files.ts';

/** agent.yaml keys the role has a typed variable for (meta/argument_specs.yml); the rest go through kip_agent_config. */
const ROLE_VARIABLES: Readonly<Record<string, string>> = {
  nodeName: 'kip_agent_node_name',
  listen: 'kip_agent_listen',
  kubeletBinary: 'kip_agent_kubelet_binary',
  kubeletUnit: 'kip_agent_kubelet_unit',
  healthzUrl: 'kip_agent_kubelet_healthz_url',
  skipFile: 'kip_agent_skip_file',
  kubeconfig: 'kip_agent_kubeconfig',
  criEndpoint: 'kip_agent_cri_endpoint',
  manifestsDir: 'kip_agent_manifests_dir',
  components: 'kip_agent_components',
  etcdEndpoints: 'kip_agent_etcd_endpoints',
  metricsListen: 'kip_agent_metrics_listen',
  logLevel: 'kip_agent_log_level',
};

/** The role installs its certificates at these paths (tasks/present.yml) and writes them into agent.yaml itself. */
const ROLE_TLS: Readonly<Record<string, string>> = { tlsCa: AGENT_PATHS.ca, tlsCert: AGENT_PATHS.cert, tlsKey: AGENT_PATHS.key };

export interface RoleHost {
  readonly name: string;
  readonly group: 'control_plane' | 'workers';
  readonly address: string;
  /** The node's init, as the host sees it (nsenter target). */
  readonly leaderPid: number;
  readonly fields: AgentFields;
}

/** The role's host variables for one lab node: its connection, and its agent.yaml as role variables. */
export function roleHostVars(host: RoleHost): Record<string, unknown> {
  const vars: Record<string, unknown> = {
    ansible_connection: NSENTER_CONNECTION,
    ansible_pipelining: true,
    ansible_nsenter_pid: host.leaderPid,
    ansible_host: host.address,
    ansible_become: false,
    ansible_python_interpreter: '/usr/bin/python3',
    kip_agent_port: AGENT_PORT,
  };
  const rest: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(host.fields)) {
    const tls = ROLE_TLS[key];
    if (tls !== undefined) {
      if (value !== tls) throw new LabError('LAB_BAD_ARGUMENT', `the role installs ${key} at ${tls}, the lab asked for ${String(value)}`, { key, value: String(value) });
      continue;
    }
    const roleVar = ROLE_VARIABLES[key];
    if (roleVar) vars[roleVar] = value;
    else rest[key] = value;
  }
  if (Object.keys(rest).length > 0) vars.kip_agent_config = rest;
  return vars;
}

export interface RoleInventoryOptions {
  readonly hosts: readonly RoleHost[];
  readonly artifact: string;
  readonly kipCli: string;
  readonly pkiDir: string;
  /** The lab issued every certificate (issueLabCertificates): the role only checks them. */
  readonly certsIssued?: boolean;
}

/**
 * The artifact as the lab's nodes see it: the repository is bind-mounted read-only at the same
 * path in every node (bring-up.ts repoMounts), so an artifact inside it needs no copy over the
 * connection. Outside it: undefined (the controller copies it).
 */
export function artifactOnNodes(artifact: string, repoDir: string = REPO_DIR): string | undefined {
  // Through its real path: a checkout whose .cache is a symlink out of the repository (a git
  // worktree sharing another's cache) has the artifact where the nodes cannot see it.
  const real = realPathOr(artifact);
  const rel = relative(realPathOr(repoDir), real);
  return rel !== '' && !rel.startsWith('..') && !rel.startsWith('/') ? real : undefined;
}

function realPathOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** An Ansible YAML inventory for the lab: controller-side paths in all.vars, one host per node. */
export function roleInventory(o: RoleInventoryOptions): string {
  const groups: Record<string, Record<string, Record<string, never>>> = {};
  for (const h of o.hosts) (groups[h.group] ??= {})[h.name] = {};
  const onNodes = artifactOnNodes(o.artifact);
  return toYaml({
    all: {
      vars: {
        kip_agent_artifact: o.artifact,
        ...(onNodes !== undefined ? { kip_agent_artifact_node_path: onNodes } : {}),
        kip_agent_kip_cli: o.kipCli,
        kip_agent_pki_dir: o.pkiDir,
        ...(o.certsIssued ? { kip_agent_issue_certs: false } : {}),
      },
      hosts: Object.fromEntries(o.hosts.map((h) => [h.name, roleHostVars(h)])),
      children: Object.fromEntries(Object.entries(groups).map(([g, hosts]) => [g, { hosts }])),
    },
  });
}

const isFile = (p: string) => stat(p).then((s) => s.isFile(), () => false);

export interface RoleArtifacts {
  readonly artifact: string;
  readonly kipCli: string;
}

/**
 * The agent artifact and the kip CLI for the role's controller side. Given paths must exist; the
 * defaults (dist/kip-agent-linux-x64, dist/kip) are built with `npm run package` when missing.
 */
export async function ensureRoleArtifacts(exec: Exec, given: { artifact?: string; kipCli?: string }, progress: (l: string) => void): Promise<RoleArtifacts> {
  const artifact = given.artifact ?? join(REPO_DIR, 'dist', 'kip-agent-linux-x64');
  const kipCli = given.kipCli ?? join(REPO_DIR, 'dist', 'kip');
  for (const [flag, p] of [['--agent-artifact', given.artifact], ['--kip-cli', given.kipCli]] as const) {
    if (p !== undefined && !(await isFile(p))) throw new LabError('LAB_BAD_ARGUMENT', `${flag} ${p} is not a file: build it with npm run package, or leave ${flag} out to use dist/`, { path: p });
  }
  if (!(await isFile(artifact)) || !(await isFile(kipCli))) {
    progress('dist/kip-agent-linux-x64 or dist/kip missing: npm run package');
    const r = await exec('npm', ['run', 'package'], { timeoutMs: 900_000, cwd: REPO_DIR });
    if (r.exitCode !== 0 || !(await isFile(artifact)) || !(await isFile(kipCli))) {
      throw new LabError('LAB_PACKAGE_FAILED', `npm run package did not build ${artifact} and ${kipCli}: ${(r.stderr || r.stdout).trim().split('\n').slice(-5).join('\n')}`, { exitCode: r.exitCode });
    }
  }
  return { artifact, kipCli };
}

export interface RoleInstall {
  /** For kip and the lab record: the role PKI's CA and a coordinator certificate it issued. */
  readonly agentPki: { ca: string; cert: string; key: string };
  readonly inventory: string;
  readonly playbook: PlaybookResult;
}

/** The viewer certificate the role's GetNode check uses (certificates.yml). */
const ROLE_VIEWER = 'kip-ansible';

/**
 * The role's PKI in one go, in this process with lib/pki (the code `kip pki init|issue` runs): a
 * CA (kip pki init's defaults: kip-ca, 3650 days), the lab's coordinator certificate, the role's viewer and each node's agent certificate with
 * the names the role would give it (--agent HOST --ip ADDRESS --dns HOST, 365 days). Each kip
 * process the role would start per host costs about a second of CPU on the loaded lab machine.
 */
export async function issueLabCertificates(pkiDir: string, hosts: readonly RoleHost[], clock: Clock): Promise<void> {
  const { createCa, issue } = await import('../../lib/pki/x509.ts');
  // Backdated a minute as kip pki does: a node clock slightly behind must not see "not yet valid".
  const notBeforeMs = clock.now() - 60_000;
  const validity = { notBeforeMs, days: 365 };
  const ca = await createCa('kip-ca', { notBeforeMs, days: 3650 });
  await writePem(pkiDir, 'ca', ca, { force: true });
  const issued = await Promise.all([
    issue(ca, { kind: 'client', name: 'kip-lab', role: 'coordinator' }, validity).then((pem) => ({ base: 'coordinator-kip-lab', pem })),
    issue(ca, { kind: 'client', name: ROLE_VIEWER, role: 'viewer' }, validity).then((pem) => ({ base: `viewer-${ROLE_VIEWER}`, pem })),
    ...hosts.map((h) => issue(ca, { kind: 'agent', name: h.name, ips: [h.address], dns: [h.name] }, validity).then((pem) => ({ base: `agent-${h.name}`, pem }))),
  ]);
  for (const { base, pem } of issued) await writePem(pkiDir, base, pem, { force: true });
}

/**
 * The role's PKI (issueLabCertificates), then one ansible-playbook run over every node, all of
 * them at once. The role checks each certificate (kip pki check) and waits until each agent
 * answers `kip ping` (GetNode over mutual TLS).
 */
export async function installAgentsWithRole(o: { stateDir: string; hosts: readonly RoleHost[]; artifacts: RoleArtifacts; clock: Clock }): Promise<RoleInstall> {
  const pkiDir = join(o.stateDir, 'kip-pki');
  await issueLabCertificates(pkiDir, o.hosts, o.clock);
  const dir = join(o.stateDir, 'ansible');
  await mkdir(dir, { recursive: true });
  const inventory = join(dir, 'inventory.yml');
  await writeFile(inventory, roleInventory({ hosts: o.hosts, artifact: o.artifacts.artifact, kipCli: o.artifacts.kipCli, pkiDir, certsIssued: true }));
  const playbook = await runPlaybook({ inventory, extraVars: {}, timeoutMs: 900_000, forks: o.hosts.length });
  await writeFile(join(dir, 'last-run.json'), JSON.stringify({ exitCode: playbook.exitCode, durationMs: playbook.durationMs, stats: playbook.stats, failures: playbook.failures, taskMs: playbook.taskMs }, null, 2));
  if (playbook.exitCode !== 0) {
    const failures = playbook.failures.map((f) => `${f.host}: ${f.task}: ${f.msg}`).join('\n') || playbook.raw.slice(-3000);
    throw new LabError('LAB_ROLE_FAILED', `ansible-playbook (kip_agent role) failed with exit ${String(playbook.exitCode)}:\n${failures}`, { exitCode: playbook.exitCode });
  }
  return { agentPki: { ca: join(pkiDir, 'ca.crt'), cert: join(pkiDir, 'coordinator-kip-lab.crt'), key: join(pkiDir, 'coordinator-kip-lab.key') }, inventory, playbook };
}
