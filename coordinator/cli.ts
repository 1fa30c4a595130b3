/**
 * kip, the coordinator CLI: composition root. Wires process I/O into the commands; the
 * commands themselves receive their collaborators.
 */
import { isKipError, InvalidInputError } from '../lib/errors.ts';
import { hashUsage, runHash } from './commands/hash.ts';
import { pkiUsage, runPki } from './commands/pki.ts';
import { EXIT_FAILED, EXIT_USAGE, processIo, type CliIo } from './io.ts';

const COMMANDS: Record<string, { summary: string; run: (argv: readonly string[], io: CliIo) => Promise<number>; usage: () => string }> = {
  hash: { summary: 'kubelet container hashes, and the restarts a version step would cause', run: runHash, usage: hashUsage },
  pki: { summary: 'the CA and certificates of agents, coordinators and viewers', run: runPki, usage: pkiUsage },
};

function usage(): string {
  const names = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)}${c.summary}`);
  return `usage: kip <command> [options]\n\ncommands:\n${names.join('\n')}\n\nkip <command> --help shows a command's options.\n`;
}


export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(usage());
    return name === undefined ? EXIT_USAGE : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.stderr(`kip: unknown command "${name}"\n${usage()}`);
    return EXIT_USAGE;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(`${command.usage()}\n`);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof InvalidInputError) {
      io.stderr(`kip ${name}: ${err.message}\n`);
      return EXIT_USAGE;
    }
    if (isKipError(err)) {
      io.stderr(`kip ${name}: ${err.message} [${err.code}]\n`);
      return EXIT_FAILED;
    }
    throw err;
  }
}
