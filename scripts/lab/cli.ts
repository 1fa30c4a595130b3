/**
 * `kip-lab up|down|status|kubeconfig`: a whole v1.10 cluster on this machine (scripts/lab/).
 * `up` starts the lab supervisor as a detached process (it owns the nodes and containerds and
 * must outlive this command), prints its progress and returns once the lab is up or has failed.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { InvalidInputError, isKipError } from '../../lib/errors.ts';
import { execaExec, type Exec } from '../../lib/exec.ts';
import { silentLogger, type Logger } from '../../lib/logger.ts';
import { systemClock, type Clock } from '../../lib/clock.ts';
import {
  DEFAULT_STATE_DIR, LabError, PROGRESS_FILE, REPO_DIR, SUPERVISOR_LOG, labStatus, pidAlive, readLabState, sweepLab, type LabHealth, type LabState,
} from './lab.ts';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, processIo, type CliIo } from '../../coordinator/io.ts';
import { formatBreakdown } from './memory.ts';
import { DEFAULT_LAB_RUNTIME, parseLabRuntime } from './docker-workers.ts';

export const LAB_USAGE = `usage:
  kip-lab up [--workers N] [--version v1.10.13] [--unpatched] [--state-dir DIR]
             [--address-prefix 127.0.0] [--workloads full|small] [--timeout SECONDS]
             [--hashes engine|vectors] [--control-plane systemd|static-pods] [--programs bundle|tsx]
             [--runtime docker|containerd|mixed] [--agents lab|role]
             [--agent-artifact FILE] [--kip-cli FILE]
  kip-lab down [--state-dir DIR]
  kip-lab status [--state-dir DIR] [-o text|json]
  kip-lab kubeconfig [--state-dir DIR] [--raw]

A v1.10 cluster on this machine: 1 control-plane node + N workers (default 3), each a real systemd
in systemd-nspawn with its own loopback address (PREFIX.10, PREFIX.11, ...), a private containerd
per worker, the lab kubelet (patched unless --unpatched) and kip-agent as units, and ~20 pods.
The state dir (default ${DEFAULT_STATE_DIR}, or KIP_LAB_DIR) holds lab.json, the PKI, the admin
kubeconfig, the nodes' overlays and the logs (up.log, supervisor.log). Needs root.
--hashes vectors: the hash oracle. The lab kubelets take every container hash from the golden
vectors produced with the real Go code (test/fixtures/hash-vectors/) instead of kip's engine, and
the workloads are built from those containers; a container they lack stops the kubelet.
--control-plane static-pods: kubeadm's layout. The control-plane node's own kubelet runs
kube-apiserver, kube-scheduler and kube-controller-manager from /etc/kubernetes/manifests (the
image tag is the version); default systemd: each is a unit with a versioned binary.
--programs: the lab's own programs (kubelet, apiserver, scheduler, controller-manager, kube-proxy,
kip-agent) run as esbuild bundles built at up into dist/lab/ (default), or from the sources through tsx.
--runtime: the workers' container runtime. mixed (default): worker-1 on a private dockerd with the
kubelet's dockershim flags (--container-runtime=docker), the others on containerd (CRI); docker or
containerd: every worker on it.
--agents role: kip-agent is installed by the Ansible role (scripts/ansible/roles/kip_agent, real
ansible-playbook over nsenter) with the packaged artifact (--agent-artifact, default
dist/kip-agent-linux-x64) and the kip CLI for its certificates and ping (--kip-cli, default
dist/kip); the defaults are built with npm run package when missing. Default lab: the lab writes
the agent's files itself and runs its bundle.`;

export function labUsage(): string {
  return LAB_USAGE;
}

export interface LabCommandDeps {
  readonly exec: Exec;
  readonly logger: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly clock: Clock;
  /** Starts the supervisor detached; returns its pid. */
  readonly startSupervisor: (stateDir: string, args: readonly string[]) => number;
}

/** The one place the CLI starts a process that must outlive it: detached, output to a log file. */
export function startDetachedSupervisor(stateDir: string, args: readonly string[]): number {
  const fd = openSync(join(stateDir, SUPERVISOR_LOG), 'a');
  try {
    const child = spawn(process.execPath, ['--import', join(REPO_DIR, 'node_modules/tsx/dist/esm/index.mjs'), join(REPO_DIR, 'scripts/lab/supervisor.ts'), ...args], {
      detached: true,
      stdio: ['ignore', fd, fd],
      cwd: REPO_DIR,
    });
    const pid = child.pid;
    if (pid === undefined) throw new LabError('LAB_SUPERVISOR_SPAWN', 'could not start the lab supervisor');
    child.unref();
    return pid;
  } finally {
    closeSync(fd);
  }
}

export function defaultLabDeps(): LabCommandDeps {
  return { exec: execaExec, logger: silentLogger(), env: process.env, clock: systemClock, startSupervisor: startDetachedSupervisor };
}

class LabUsageError extends InvalidInputError {
  constructor(message: string) {
    super('CLI_USAGE', `${message}\n${LAB_USAGE}`);
  }
}

function parse<T>(run: () => T): T {
  try {
    return run();
  } catch (err) {
    throw new LabUsageError(err instanceof Error ? err.message : String(err));
  }
}

function stateDirOf(value: unknown, env: LabCommandDeps['env']): string {
  return resolve(typeof value === 'string' && value !== '' ? value : env.KIP_LAB_DIR || DEFAULT_STATE_DIR);
}

const mib = (b: number): string => `${(b / 1024 / 1024).toFixed(0)} MiB`;

export function formatSummary(state: LabState): string {
  const s = state.summary;
  if (!s) return '';
  const runtimeOf = (n: string): string => state.nodes.find((r) => r.name === n)?.runtime ?? '';
  const mem = Object.entries(s.memoryBytes).map(([n, b]) => `    ${n.padEnd(16)}${mib(b).padEnd(10)}${runtimeOf(n)}`.trimEnd()).join('\n');
  const owners = Object.entries(s.memoryBreakdown ?? {}).map(([n, b]) => `    ${n.padEnd(16)}${formatBreakdown(b)}`).join('\n');
  return [
    `lab up: ${s.nodes} nodes (1 control plane + ${s.nodes - 1} workers), ${s.pods} pods, ${s.containers} containers running, in ${(s.upMs / 1000).toFixed(1)} s`,
    `  kubernetes ${state.options.version}, kubelets ${state.options.patched ? 'patched (skip file /tmp/cache.version.save)' : 'unpatched'}`,
    `  apiserver ${state.apiserver ?? '?'}`,
    `  kubeconfig ${state.kubeconfig ?? '?'}   (kubectl --kubeconfig ${state.kubeconfig ?? '?'} get nodes)`,
    ...(s.selectorPodNode ? [`  node ${s.selectorPodNode} lost the nodeSelector label of reports/legacy-reports-0 (for preflight)`] : []),
    '  memory per node (RSS):',
    mem,
    ...(owners ? ['  memory per node by owner (RSS/PSS MiB; agent = kip-agent, lab = the lab\'s programs, runtime = containerd/shims/dockerd):', owners] : []),
    '',
  ].join('\n');
}

async function up(argv: readonly string[], io: CliIo, deps: LabCommandDeps): Promise<number> {
  const { values } = parse(() => parseArgs({ args: [...argv], options: {
    workers: { type: 'string', default: '3' },
    version: { type: 'string', default: 'v1.10.13' },
    unpatched: { type: 'boolean', default: false },
    'state-dir': { type: 'string' },
    'address-prefix': { type: 'string', default: '127.0.0' },
    workloads: { type: 'string', default: 'full' },
    'sync-interval': { type: 'string', default: '2000' },
    timeout: { type: 'string', default: '900' },
    hashes: { type: 'string', default: 'engine' },
    'control-plane': { type: 'string', default: 'systemd' },
    programs: { type: 'string', default: 'bundle' },
    runtime: { type: 'string', default: DEFAULT_LAB_RUNTIME },
    agents: { type: 'string', default: 'lab' },
    'agent-artifact': { type: 'string' },
    'kip-cli': { type: 'string' },
  } }));
  const workers = Number(values.workers);
  if (!Number.isInteger(workers) || workers < 1 || workers > 40) throw new LabUsageError(`--workers must be an integer 1..40, got ${String(values.workers)}`);
  if (!/^v1\.\d+\.\d+$/.test(String(values.version))) throw new LabUsageError(`--version must look like v1.10.13, got ${String(values.version)}`);
  if (values.workloads !== 'full' && values.workloads !== 'small') throw new LabUsageError('--workloads must be full or small');
  if (values.hashes !== 'engine' && values.hashes !== 'vectors') throw new LabUsageError('--hashes must be engine or vectors');
  if (values['control-plane'] !== 'systemd' && values['control-plane'] !== 'static-pods') throw new LabUsageError('--control-plane must be systemd or static-pods');
  if (values.programs !== 'bundle' && values.programs !== 'tsx') throw new LabUsageError('--programs must be bundle or tsx');
  const runtime = parse(() => parseLabRuntime(values.runtime));
  if (values.agents !== 'lab' && values.agents !== 'role') throw new LabUsageError('--agents must be lab or role');
  if ((values['agent-artifact'] || values['kip-cli']) && values.agents !== 'role') throw new LabUsageError('--agent-artifact and --kip-cli go with --agents role');
  if (!/^127\.\d{1,3}\.\d{1,3}$/.test(String(values['address-prefix']))) throw new LabUsageError('--address-prefix must look like 127.X.Y');
  const timeoutMs = Number(values.timeout) * 1000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new LabUsageError('--timeout must be a positive number of seconds');
  const stateDir = stateDirOf(values['state-dir'], deps.env);

  const existing = await readLabState(stateDir);
  if (existing) {
    const alive = pidAlive(existing.supervisorPid);
    io.stderr(alive
      ? `kip-lab up: a lab is already ${existing.status} in ${stateDir} (supervisor pid ${existing.supervisorPid}); run \`kip-lab down\` first\n`
      : `kip-lab up: ${stateDir} holds the remains of a lab (status ${existing.status}, supervisor gone); run \`kip-lab down\` first\n`);
    return EXIT_FAILED;
  }
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const args = [
    '--state-dir', stateDir, '--workers', String(workers), '--version', String(values.version), '--address-prefix', String(values['address-prefix']),
    '--workloads', String(values.workloads), '--sync-interval', String(values['sync-interval']), '--hashes', String(values.hashes), '--control-plane', String(values['control-plane']), '--programs', String(values.programs), '--runtime', runtime, ...(values.unpatched ? ['--unpatched'] : []),
    '--agents', values.agents, ...(values['agent-artifact'] ? ['--agent-artifact', resolve(values['agent-artifact'])] : []), ...(values['kip-cli'] ? ['--kip-cli', resolve(values['kip-cli'])] : []),
  ];
  const started = deps.clock.now();
  const pid = deps.startSupervisor(stateDir, args);
  io.stdout(`kip-lab up: supervisor pid ${pid}, state dir ${stateDir} (logs: ${join(stateDir, PROGRESS_FILE)}, ${join(stateDir, SUPERVISOR_LOG)})\n`);
  let printed = 0;
  const printNew = async (): Promise<void> => {
    const text = await readFile(join(stateDir, PROGRESS_FILE), 'utf8').catch(() => '');
    const complete = text.slice(0, text.lastIndexOf('\n') + 1);
    if (complete.length > printed) {
      io.stdout(complete.slice(printed).split('\n').filter((l) => l !== '').map((l) => `  ${l}\n`).join(''));
      printed = complete.length;
    }
  };
  for (;;) {
    await printNew();
    const state = await readLabState(stateDir).catch(() => undefined);
    if (state?.status === 'up') {
      await printNew();
      io.stdout(formatSummary(state));
      return EXIT_OK;
    }
    const dead = !pidAlive(pid);
    const failed = state?.status === 'failed' || dead;
    const timedOut = deps.clock.now() - started > timeoutMs;
    if (failed || timedOut) {
      await printNew();
      const reason = timedOut && !failed ? `not up after ${values.timeout} s` : state?.error ?? `the supervisor exited; see ${join(stateDir, SUPERVISOR_LOG)}`;
      io.stderr(`kip-lab up: failed: ${reason}\n`);
      io.stderr('kip-lab up: cleaning up\n');
      const r = await sweepLab(stateDir, { ...deps, progress: (l) => io.stderr(`  ${l}\n`) });
      for (const p of r.problems) io.stderr(`  cleanup problem: ${p}\n`);
      return EXIT_FAILED;
    }
    await deps.clock.sleep(300);
  }
}

async function down(argv: readonly string[], io: CliIo, deps: LabCommandDeps): Promise<number> {
  const { values } = parse(() => parseArgs({ args: [...argv], options: { 'state-dir': { type: 'string' } } }));
  const stateDir = stateDirOf(values['state-dir'], deps.env);
  const started = deps.clock.now();
  const r = await sweepLab(stateDir, { ...deps, progress: (l) => io.stdout(`  ${l}\n`) });
  if (r.problems.length > 0) {
    for (const p of r.problems) io.stderr(`kip-lab down: ${p}\n`);
    return EXIT_FAILED;
  }
  io.stdout(`kip-lab down: nothing left of the lab in ${stateDir} (${((deps.clock.now() - started) / 1000).toFixed(1)} s)\n`);
  return EXIT_OK;
}

export function formatStatus(h: LabHealth): string {
  if (!h.state) return 'no lab\n';
  const lines = [
    `lab ${h.state.status} in ${h.state.stateDir}: supervisor ${h.supervisorAlive ? `running (pid ${h.state.supervisorPid})` : 'gone'}, apiserver ${h.apiserverHealthy ? `healthy at ${h.state.apiserver ?? '?'}` : 'unreachable'}`,
    `${'NODE'.padEnd(16)}${'ROLE'.padEnd(15)}${'ADDRESS'.padEnd(14)}${'RUNTIME'.padEnd(12)}${'SYSTEMD'.padEnd(11)}${'READY'.padEnd(7)}${'KUBELET'.padEnd(10)}${'MEMORY'.padEnd(10)}${'AGENT'.padEnd(17)}UNITS`,
    ...h.nodes.map((n) =>
      `${n.name.padEnd(16)}${n.role.padEnd(15)}${n.address.padEnd(14)}${(n.runtime ?? '-').padEnd(12)}${n.systemd.padEnd(11)}${(n.ready === undefined ? '-' : n.ready ? 'yes' : 'no').padEnd(7)}${(n.kubeletVersion ?? '-').padEnd(10)}${mib(n.memoryBytes).padEnd(10)}${(n.agent ?? '-').padEnd(17)}${Object.entries(n.units).map(([u, s]) => `${u.replace(/\.service$/, '')}=${s}`).join(' ')}`),
  ];
  if (h.pods) lines.push(`pods ${h.pods.running}/${h.pods.total} running, containers ${h.pods.runningContainers}/${h.pods.containers} running`);
  lines.push(h.healthy ? 'healthy' : 'NOT healthy');
  return `${lines.join('\n')}\n`;
}

async function status(argv: readonly string[], io: CliIo, deps: LabCommandDeps): Promise<number> {
  const { values } = parse(() => parseArgs({ args: [...argv], options: { 'state-dir': { type: 'string' }, output: { type: 'string', short: 'o', default: 'text' } } }));
  if (values.output !== 'text' && values.output !== 'json') throw new LabUsageError('-o must be text or json');
  const h = await labStatus(stateDirOf(values['state-dir'], deps.env), deps);
  io.stdout(values.output === 'json' ? `${JSON.stringify(h, null, 2)}\n` : formatStatus(h));
  return h.healthy ? EXIT_OK : EXIT_FAILED;
}

async function kubeconfig(argv: readonly string[], io: CliIo, deps: LabCommandDeps): Promise<number> {
  const { values } = parse(() => parseArgs({ args: [...argv], options: { 'state-dir': { type: 'string' }, raw: { type: 'boolean', default: false } } }));
  const stateDir = stateDirOf(values['state-dir'], deps.env);
  const state = await readLabState(stateDir);
  if (!state?.kubeconfig) {
    io.stderr(`kip-lab kubeconfig: no lab in ${stateDir} (run \`kip-lab up\`)\n`);
    return EXIT_FAILED;
  }
  io.stdout(values.raw ? await readFile(state.kubeconfig, 'utf8') : `${state.kubeconfig}\n`);
  return EXIT_OK;
}

export async function runLab(argv: readonly string[], io: CliIo, deps: LabCommandDeps = defaultLabDeps()): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'up':
      return up(rest, io, deps);
    case 'down':
      return down(rest, io, deps);
    case 'status':
      return status(rest, io, deps);
    case 'kubeconfig':
      return kubeconfig(rest, io, deps);
    default:
      throw new LabUsageError(sub === undefined ? 'kip-lab needs a subcommand' : `unknown subcommand "${sub}"`);
  }
}

/** `kip-lab`: the lab's own entry, so no production command loads lab code. */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.stdout(`${LAB_USAGE}\n`);
    return argv.length === 0 ? EXIT_USAGE : EXIT_OK;
  }
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout(`${LAB_USAGE}\n`);
    return EXIT_OK;
  }
  try {
    return await runLab(argv, io);
  } catch (err) {
    if (err instanceof InvalidInputError) {
      io.stderr(`kip-lab: ${err.message}\n`);
      return EXIT_USAGE;
    }
    if (isKipError(err)) {
      io.stderr(`kip-lab: ${err.message} [${err.code}]\n`);
      return EXIT_FAILED;
    }
    throw err;
  }
}
