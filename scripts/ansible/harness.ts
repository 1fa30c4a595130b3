/**
 * Running the kip_agent role for real: nspawn nodes with a real systemd, a stand-in kubelet as
 * kubelet.service and no Node.js, reached by Debian's ansible-playbook through the
 * community.docker.nsenter connection (no ssh: nsenter into the node's init). Used by the role's
 * integration test and by `npm run bench -- ansible`; it asserts nothing itself.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { execaExec } from '../../lib/exec.ts';
import { bootNode, ensureBaseImage, type NspawnNode } from '../nspawn/index.ts';
import { freePort, KUBELET_UNIT, REPO, standInKubelet } from '../nspawn/agent-node.ts';

export const ANSIBLE_DIR = path.join(REPO, 'scripts', 'ansible');
export const PLAYBOOK = path.join(ANSIBLE_DIR, 'playbook.yml');
/** The nsenter connection with pipelining (connection_plugins/kip_nsenter.py: why). */
export const NSENTER_CONNECTION = 'kip_nsenter';

export interface KubeletNode {
  readonly node: NspawnNode;
  readonly name: string;
  readonly agentPort: number;
  readonly healthzPort: number;
  /** Runs `sh -c cmd` in the node; the exit code and stdout. */
  sh(cmd: string, timeoutMs?: number): Promise<{ code: number | undefined; out: string }>;
}

/** Boots a node whose kubelet (the stand-in, `version`) runs under systemd; no agent, no Node.js. */
export async function bootKubeletNode(name: string, workDir: string, version: string): Promise<KubeletNode> {
  const healthzPort = await freePort();
  const agentPort = await freePort();
  const node = await bootNode({ name, base: await ensureBaseImage(), workDir, bindNodeBinary: false });
  try {
    await node.waitForSystemd(90_000);
    const put = async (p: string, data: string | Buffer, mode = 0o644) => {
      await mkdir(path.dirname(path.join(node.root, p)), { recursive: true });
      await writeFile(path.join(node.root, p), data, { mode });
    };
    await put('/usr/bin/kubelet', standInKubelet(version), 0o755);
    await put('/etc/default/kubelet', `KUBELET_ARGS="--healthz-port=${healthzPort} --v=2"\n`);
    await put('/etc/systemd/system/kubelet.service', KUBELET_UNIT);
    const sh = async (cmd: string, timeoutMs = 60_000) => {
      const r = await node.exec('sh', ['-c', cmd], { timeoutMs });
      return { code: r.exitCode, out: r.stdout + r.stderr };
    };
    const started = await sh('systemctl daemon-reload && systemctl enable --now kubelet.service');
    if (started.code !== 0) throw new Error(`${name}: kubelet.service did not start: ${started.out}`);
    return { node, name, agentPort, healthzPort, sh };
  } catch (err) {
    await node.stop();
    throw err;
  }
}

/** An Ansible YAML inventory reaching each node by nsenter, agents on 127.0.0.1:<own port>. */
export function nsenterInventory(nodes: readonly KubeletNode[], groups: Readonly<Record<string, readonly string[]>> = { workers: nodes.map((n) => n.name) }): string {
  const hostVars = (n: KubeletNode) => ({
    ansible_connection: NSENTER_CONNECTION,
    ansible_pipelining: true,
    ansible_nsenter_pid: n.node.leaderPid,
    ansible_host: '127.0.0.1',
    ansible_become: false,
    ansible_python_interpreter: '/usr/bin/python3',
    kip_agent_port: n.agentPort,
  });
  const children = Object.fromEntries(Object.entries(groups).map(([g, hosts]) => [g, { hosts: Object.fromEntries(hosts.map((h) => [h, {}])) }]));
  return toYaml({ all: { hosts: Object.fromEntries(nodes.map((n) => [n.name, hostVars(n)])), children } });
}

export interface HostStats {
  readonly ok: number;
  readonly changed: number;
  readonly failures: number;
  readonly skipped: number;
  readonly unreachable: number;
}

export interface PlaybookResult {
  readonly exitCode: number | undefined;
  readonly stats: Readonly<Record<string, HostStats>>;
  /** Failed tasks: host, task name and the module's message / stderr. */
  readonly failures: readonly { host: string; task: string; msg: string }[];
  /** Each task's wall time (ms), in order. */
  readonly taskMs: readonly { task: string; ms: number }[];
  /** Task names that reported changed, per host. */
  readonly changedTasks: Readonly<Record<string, readonly string[]>>;
  readonly durationMs: number;
  readonly raw: string;
}

interface JsonCallbackOutput {
  plays?: { tasks?: { task?: { name?: string; duration?: { start?: string; end?: string } }; hosts?: Record<string, { changed?: boolean; failed?: boolean; msg?: string; stderr?: string; results?: { changed?: boolean }[] }> }[] }[];
  stats?: Record<string, HostStats>;
}

/** Runs ansible-playbook with the JSON callback (ansible.posix.json) and returns what it reported. */
export async function runPlaybook(options: {
  readonly inventory: string;
  readonly extraVars: Readonly<Record<string, unknown>>;
  readonly check?: boolean;
  readonly playbook?: string;
  readonly timeoutMs?: number;
  /** Parallel hosts (ansible's --forks, default 5): the lab passes its node count. */
  readonly forks?: number;
}): Promise<PlaybookResult> {
  const started = Date.now();
  const args = ['-i', options.inventory, options.playbook ?? PLAYBOOK, '-e', JSON.stringify(options.extraVars), ...(options.check ? ['--check'] : []), ...(options.forks !== undefined ? ['--forks', String(Math.max(1, options.forks))] : [])];
  const r = await execaExec('ansible-playbook', args, {
    timeoutMs: options.timeoutMs ?? 600_000,
    cwd: ANSIBLE_DIR,
    env: {
      ...Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined)),
      ANSIBLE_STDOUT_CALLBACK: 'ansible.posix.json',
      ANSIBLE_ROLES_PATH: path.join(ANSIBLE_DIR, 'roles'),
      ANSIBLE_CONNECTION_PLUGINS: path.join(ANSIBLE_DIR, 'connection_plugins'),
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_RETRY_FILES_ENABLED: '0',
      ANSIBLE_LOCALHOST_WARNING: '0',
      ANSIBLE_PYTHON_INTERPRETER: 'auto_silent',
    },
  });
  const durationMs = Date.now() - started;
  const start = r.stdout.indexOf('{');
  let doc: JsonCallbackOutput = {};
  try {
    doc = JSON.parse(start >= 0 ? r.stdout.slice(start) : '{}') as JsonCallbackOutput;
  } catch {
    doc = {};
  }
  const failures: { host: string; task: string; msg: string }[] = [];
  const changedTasks: Record<string, string[]> = {};
  const taskMs: { task: string; ms: number }[] = [];
  for (const play of doc.plays ?? []) {
    for (const t of play.tasks ?? []) {
      const d = t.task?.duration;
      if (d?.start && d.end) taskMs.push({ task: t.task?.name ?? '', ms: Date.parse(d.end) - Date.parse(d.start) });
      for (const [host, res] of Object.entries(t.hosts ?? {})) {
        const task = t.task?.name ?? '';
        if (res.failed) failures.push({ host, task, msg: [res.msg, res.stderr].filter(Boolean).join('\n') });
        if (res.changed) (changedTasks[host] ??= []).push(task);
      }
    }
  }
  return { exitCode: r.exitCode, stats: doc.stats ?? {}, failures, taskMs, changedTasks, durationMs, raw: `${r.stdout}\n${r.stderr}` };
}
