/**
 * What every command shares: kubectl-style options (--kubeconfig/KUBECONFIG, --context,
 * -o table|json|yaml, --dry-run), output rendering, colour only on a terminal, and the mapping of
 * errors to exit codes.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { stringify as toYaml } from 'yaml';
import { InvalidInputError, isKipError } from '../../lib/errors.ts';
import { EXIT_FAILED, EXIT_LOCKED, EXIT_USAGE, type CliIo } from '../io.ts';
import type { CliPorts } from '../ports.ts';
import { LockHeldError } from '../lock/lock.ts';

export interface CommandContext {
  readonly io: CliIo;
  readonly ports: CliPorts;
  /** Records the command's exit code (commander ignores action return values). */
  readonly exit: (code: number) => void;
}

export type RegisterCommand = (program: Command, ctx: CommandContext) => void;

export type OutputFormat = 'table' | 'json' | 'yaml';

import type { KubeOptions } from '../ports.ts';

export type { KubeOptions };

export function addKubeOptions(cmd: Command): Command {
  return cmd
    .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context to use');
}

export function addOutput(cmd: Command): Command {
  return cmd.addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json', 'yaml']).default('table'));
}

export function addColor(cmd: Command): Command {
  return cmd.option('--no-color', 'no colour even on a terminal (also NO_COLOR)');
}

export function addDryRun(cmd: Command): Command {
  return cmd.option('--dry-run', 'show what would change and change nothing', false);
}

export function addStateDir(cmd: Command): Command {
  return cmd.option('--state-dir <dir>', 'where the run journal lives (default ~/.kip)');
}

export function addAgentOptions(cmd: Command): Command {
  return cmd
    .option('--pki-dir <dir>', 'mTLS material for the agents: ca.crt, coordinator.crt, coordinator.key (default <state-dir>/pki)')
    .option('--inventory <file>', 'YAML inventory of agents (hosts without a Node, and overrides)')
    .option('--from-ansible <file>', 'the same from an Ansible inventory (INI or YAML; see kip inventory)')
    .option('--agent-port <port>', 'the agents\' port on each Node\'s InternalIP', '7443');
}

export function kubeOptions(io: CliIo, opts: { kubeconfig?: string; context?: string }): KubeOptions {
  const env = io.env ?? {};
  const fromEnv = env.KUBECONFIG?.split(':').find((p) => p.length > 0);
  return { kubeconfig: opts.kubeconfig ?? fromEnv ?? join(env.HOME ?? homedir(), '.kube', 'config'), context: opts.context };
}

export function stateDirOf(io: CliIo, opts: { stateDir?: string }): string {
  return opts.stateDir ?? join(io.env?.HOME ?? homedir(), '.kip');
}

export function useColor(io: CliIo, opts: { color?: boolean }): boolean {
  return opts.color !== false && !io.env?.NO_COLOR && io.stdoutIsTTY === true;
}

export function paint(on: boolean, code: 'red' | 'green' | 'yellow' | 'bold', text: string): string {
  if (!on) return text;
  const c = { red: 31, green: 32, yellow: 33, bold: 1 }[code];
  return `\u001b[${c}m${text}\u001b[0m`;
}

export function render(io: CliIo, format: OutputFormat, value: unknown, table: () => string): void {
  if (format === 'json') io.stdout(`${JSON.stringify(value, null, 2)}\n`);
  else if (format === 'yaml') io.stdout(toYaml(value));
  else io.stdout(table());
}

export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

/** A positive integer option, or INVALID input naming the option. */
export function positiveInt(name: string, text: string | undefined, min = 1): number {
  const n = Number(text);
  if (text === undefined || !/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min) {
    throw new InvalidInputError('CLI_BAD_NUMBER', `${name} must be an integer of at least ${min}, not "${text ?? ''}"`, { option: name, value: text });
  }
  return n;
}

/** Runs a command body and maps what it throws to the documented exit codes. */
export async function runAction(ctx: CommandContext, name: string, body: () => Promise<number>): Promise<void> {
  try {
    ctx.exit(await body());
  } catch (err) {
    if (err instanceof LockHeldError) {
      ctx.io.stderr(`kip ${name}: ${err.message}\n`);
      ctx.exit(EXIT_LOCKED);
    } else if (err instanceof InvalidInputError) {
      ctx.io.stderr(`kip ${name}: ${err.message}\n`);
      ctx.exit(EXIT_USAGE);
    } else if (isKipError(err)) {
      ctx.io.stderr(`kip ${name}: ${err.message} [${err.code}]\n`);
      ctx.exit(EXIT_FAILED);
    } else {
      throw err;
    }
  }
}
