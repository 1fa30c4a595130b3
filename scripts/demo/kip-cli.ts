/**
 * The kip CLI as the demos start it: `bin/kip.mjs` as a child process with the files the lab
 * writes (kubeconfig, STATE/kip/pki, STATE/kip/inventory.yaml, --state-dir STATE/kip/state), the
 * command echoed with STATE for the lab's folder, its stderr passed line by line to a watcher.
 */
import { join } from 'node:path';
import type { Exec, ExecResult } from '../../lib/exec.ts';
import type { LabState } from '../lab/lab.ts';
import { DemoError } from './demo.ts';

export interface KipCli {
  /** The flags every fleet command takes: --kubeconfig, --pki-dir, --inventory, --state-dir. */
  readonly common: readonly string[];
  readonly kipState: string;
  readonly releases: string;
  readonly kubeconfig: string;
  /** Runs `kip ARGS`; `show` picks the lines to print; an exit code outside `okCodes` throws. */
  run(args: readonly string[], show: (r: ExecResult) => string[], okCodes?: readonly number[], onLine?: (line: string) => void): Promise<ExecResult>;
  /**
   * What both demos do before the upgrade: `kip preflight --fix node-labels` (exit 1 = findings
   * remain; the lab's worker-1 lost a nodeSelector label, which a restarting kubelet would kill
   * the pod for), `kip plan` (its long checklist shown as a count) and `kip stage`.
   */
  prepare(target: string): Promise<void>;
}

export const nonEmptyLines = (s: string): string[] => s.split('\n').filter((l) => l.trim() !== '');

export function kipCli(state: LabState, kip: readonly [string, string], exec: Exec, out: (line: string) => void): KipCli {
  if (!state.kubeconfig || !state.kip?.pkiDir || !state.kip.inventory || !state.kip.releases) {
    throw new DemoError(`${state.stateDir}/lab.json lacks the kubeconfig or the kip files (pki, inventory, releases): bring the lab down and up again`);
  }
  const kipState = join(state.stateDir, 'kip', 'state');
  const common = ['--kubeconfig', state.kubeconfig, '--pki-dir', state.kip.pkiDir, '--inventory', state.kip.inventory, '--state-dir', kipState];
  const run: KipCli['run'] = async (args, show, okCodes = [0], onLine) => {
    out(`$ kip ${args.map((a) => (a.startsWith('/') ? a.replace(state.stateDir, 'STATE') : a)).join(' ')}`);
    let partial = '';
    const r = await exec(kip[0], [kip[1], ...args], {
      timeoutMs: 3_600_000,
      ...(onLine ? {
        onOutput: (stream, chunk) => {
          if (stream !== 'stderr') return;
          const lines = (partial + chunk).split('\n');
          partial = lines.pop() ?? '';
          for (const l of lines) onLine(l);
        },
      } : {}),
    });
    if (onLine && partial) onLine(partial);
    for (const l of show(r)) out(`  ${l}`);
    if (!okCodes.includes(r.exitCode ?? -1)) throw new DemoError(`kip ${args[0]} exited ${r.exitCode ?? r.signal}: ${r.stderr.trim().split('\n').slice(-3).join(' / ')}`);
    return r;
  };
  const releases = state.kip.releases;
  const kubeconfig = state.kubeconfig;
  const lines = nonEmptyLines;
  const prepare: KipCli['prepare'] = async (target) => {
    const noisy = (l: string) => /eviction-tolerations|static-pod /.test(l);
    await run(['preflight', '--to', target, '--fix', 'node-labels', ...common], (r) => lines(r.stdout).filter((l) => !noisy(l)).concat(
      `(${lines(r.stdout).filter(noisy).length} eviction-tolerations/static-pod warnings not shown)`), [0, 1]);
    await run(['plan', '--to', target, '--releases', releases, '--kubeconfig', kubeconfig], (r) => {
      const all = lines(r.stdout);
      const cut = all.findIndex((l) => l.startsWith('checklist'));
      return cut < 0 ? all : [...all.slice(0, cut), `checklist: ${all.length - cut - 1} lines (kip plan prints them all)`];
    });
    await run(['stage', '--to', target, '--releases', releases, ...common], (r) => {
      const rows = lines(r.stdout).slice(1);
      return [`${rows.filter((l) => /staged/.test(l)).length} of ${rows.length} kubelet binaries staged (sha256 verified by the agents)`];
    });
  };
  return { common, kipState, releases, kubeconfig, run, prepare };
}
