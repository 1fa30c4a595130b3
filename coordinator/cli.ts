/**
 * kip, the coordinator CLI: composition root. Builds the commander program from one register
 * function per command (coordinator/commands/, one line each below) and wires the real ports:
 * the cluster through lib/kube, the agents through coordinator/fleet, the SQLite run store, the
 * system clock, a pino logger on standard error.
 */
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { systemClock } from '../lib/clock.ts';
import { InvalidInputError } from '../lib/errors.ts';
import { createLogger } from '../lib/logger.ts';
import { kubeCluster } from './cluster.ts';
import type { CommandContext, RegisterCommand } from './commands/common.ts';
import { registerFinalize } from './commands/finalize.ts';
import { registerHash } from './commands/hash.ts';
import { registerHeal } from './commands/heal.ts';
import { registerInventory } from './commands/inventory.ts';
import { registerPing } from './commands/ping.ts';
import { registerPki } from './commands/pki-register.ts';
import { registerPlan } from './commands/plan.ts';
import { registerPreflight } from './commands/preflight.ts';
import { registerReport } from './commands/report.ts';
import { registerResume } from './commands/resume.ts';
import { registerRollback } from './commands/rollback.ts';
import { registerStage } from './commands/stage.ts';
import { registerStatus } from './commands/status.ts';
import { registerUnlock } from './commands/unlock.ts';
import { registerUpgrade } from './commands/upgrade.ts';
import { AgentConnection } from './fleet/client.ts';
import { EXIT_OK, EXIT_USAGE, processIo, type CliIo } from './io.ts';
import type { CliPorts } from './ports.ts';
import { openSqliteStore } from './store/sqlite.ts';

/** Every command, one registration per line (keep it so: parallel branches add lines here). */
const COMMANDS: readonly RegisterCommand[] = [
  registerHash,
  registerPlan,
  registerPreflight,
  registerStage,
  registerUpgrade,
  registerResume,
  registerRollback,
  registerStatus,
  registerUnlock,
  registerPki,
  registerReport,
  registerHeal,
  registerFinalize,
  registerPing,
  registerInventory,
];

const EXIT_CODES = `
Exit codes:
  0  done
  1  the job failed, or the run paused (kip status says why; kip resume continues;
     kip rollback rolls back the nodes of the current step)
  2  bad input: the command line, a file, a version, a hook, a node name, an agent that does not
     answer or a store from a newer kip; nothing was changed
  3  another run holds the cluster's upgrade lock (kip unlock --force removes it)
`;

export function productionPorts(io: CliIo): CliPorts {
  return {
    cluster: kubeCluster,
    agentTls: async (dir) => {
      const read = async (name: string): Promise<Buffer> => {
        try {
          return await readFile(join(dir, name));
        } catch (cause) {
          throw new InvalidInputError('PKI_UNREADABLE', `--pki-dir ${dir}: cannot read ${name} (${(cause as NodeJS.ErrnoException).code ?? String(cause)}): it needs ca.crt, coordinator.crt and coordinator.key`, { dir, file: name }, { cause });
        }
      };
      return { ca: await read('ca.crt'), cert: await read('coordinator.crt'), key: await read('coordinator.key') };
    },
    agent: (endpoint, tls) => new AgentConnection({ address: endpoint.address, tls, ...(endpoint.serverName ? { serverName: endpoint.serverName } : {}) }),
    openStore: (dir) => openSqliteStore(join(dir, 'runs.db')),
    clock: systemClock,
    logger: createLogger({ name: 'kip', level: io.env?.KIP_LOG_LEVEL ?? 'warn', destination: process.stderr }),
    identity: `${hostname()}/${process.pid}`,
  };
}

export function buildProgram(ctx: CommandContext): Command {
  const program = new Command('kip')
    .description('Kubernetes In-Place: upgrade a live cluster one minor version at a time without restarting a running container')
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.io.stdout(s), writeErr: (s) => ctx.io.stderr(s) })
    .addHelpText('after', EXIT_CODES);
  for (const register of COMMANDS) register(program, ctx);
  for (const c of program.commands) c.exitOverride().configureOutput({ writeOut: (s) => ctx.io.stdout(s), writeErr: (s) => ctx.io.stderr(s) });
  return program;
}

export async function main(argv: readonly string[], io: CliIo = processIo(), ports?: CliPorts): Promise<number> {
  let code = EXIT_OK;
  const lazy = (): CliPorts => (ports ??= productionPorts(io));
  // Ports are made on first use, so `kip hash` and `--help` never open a store or a logger.
  const deferred: CliPorts = {
    cluster: (o) => lazy().cluster(o),
    agentTls: (d) => lazy().agentTls(d),
    agent: (e, t) => lazy().agent(e, t),
    openStore: (d) => lazy().openStore(d),
    get clock() { return lazy().clock; },
    get logger() { return lazy().logger; },
    get identity() { return lazy().identity; },
    get pollMs() { return lazy().pollMs; },
    get exec() { return lazy().exec; },
  };
  const ctx: CommandContext = { io, ports: deferred, exit: (c) => { code = c; } };
  const program = buildProgram(ctx);
  const [name] = argv;
  if (name === undefined) {
    io.stdout(program.helpInformation());
    return EXIT_USAGE;
  }
  const known = new Set(program.commands.map((c) => c.name()));
  if (!name.startsWith('-') && name !== 'help' && !known.has(name)) {
    io.stderr(`kip: unknown command "${name}"\n${program.helpInformation()}`);
    return EXIT_USAGE;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') return EXIT_OK;
      return EXIT_USAGE;
    }
    throw err;
  }
  return code;
}
