/**
 * kip, the coordinator CLI: composition root. Builds the commander program from the command table
 * (coordinator/commands/index.ts, one line per command) and wires the real ports
 * (./production-ports.ts). Only the command being run is imported, and the real ports only once
 * its action runs: `kip --help`, `kip` alone and a bad command line load commander and this file,
 * not client-node, grpc or SQLite (issue 12: `kip --help` cold start under 300 ms).
 */
import { Command, CommanderError, Help } from 'commander';
import { COMMANDS } from './commands/index.ts';
import type { CommandContext, RegisterCommand } from './commands/common.ts';
import { EXIT_OK, EXIT_USAGE, processIo, type CliIo } from './io.ts';
import type { CliPorts } from './ports.ts';

const EXIT_CODES = `
Exit codes:
  0  done
  1  the job failed, or the run paused (kip status says why; kip resume continues;
     kip rollback rolls back the nodes of the current step)
  2  bad input: the command line, a file, a version, a hook, a node name, an agent that does not
     answer or a store from a newer kip; nothing was changed
  3  another run holds the cluster's upgrade lock (kip unlock --force removes it)
`;

/**
 * The program with every command: those in `loaded` registered by their own module, the others as
 * a name and summary only (enough for `kip --help`; the table's term stands for their options).
 */
export function buildProgram(ctx: CommandContext, loaded: ReadonlyMap<string, RegisterCommand>): Command {
  const stubs = new Map<Command, string>();
  const program = new Command('kip')
    .description('Kubernetes In-Place: upgrade a live cluster one minor version at a time without restarting a running container')
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.io.stdout(s), writeErr: (s) => ctx.io.stderr(s) })
    .configureHelp({ subcommandTerm: (cmd) => stubs.get(cmd) ?? Help.prototype.subcommandTerm.call(new Help(), cmd) })
    .addHelpText('after', EXIT_CODES);
  for (const entry of COMMANDS) {
    const register = loaded.get(entry.name);
    if (register) register(program, ctx);
    else stubs.set(program.command(entry.name).description(entry.summary), entry.term);
  }
  for (const c of program.commands) c.exitOverride().configureOutput({ writeOut: (s) => ctx.io.stdout(s), writeErr: (s) => ctx.io.stderr(s) });
  return program;
}

/**
 * The command argv names: its first word, or the one after `help` (`kip help upgrade`). The
 * packaged CLI's help chunk (scripts/package/build.ts) asks the same to decide whether it needs
 * the commands at all.
 */
export function commandNamed(argv: readonly string[]): string | undefined {
  const [first, second] = argv;
  const word = first === 'help' ? second : first;
  return word === undefined || word.startsWith('-') ? undefined : word;
}

export async function main(argv: readonly string[], io: CliIo = processIo(), ports?: CliPorts): Promise<number> {
  let code = EXIT_OK;
  let real = ports;
  const lazy = (): CliPorts => {
    if (!real) throw new Error('kip: the ports were used before the command\'s action (coordinator/cli.ts loads them in preAction)');
    return real;
  };
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
  const entry = COMMANDS.find((c) => c.name === commandNamed(argv));
  const program = buildProgram(ctx, new Map(entry ? [[entry.name, await entry.load()]] : []));
  // The real ports' module (client-node, grpc, SQLite) only once an action is about to run: help
  // and parse errors never load it.
  program.hook('preAction', async () => {
    real ??= (await import('./production-ports.ts')).productionPorts(io);
  });
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
