/**
 * `kip pki` on the commander program: pki keeps its own argument parser (coordinator/commands/pki.ts),
 * as `kip hash` does, so it is registered with its raw arguments.
 */
import type { Command } from 'commander';
import { EXIT_OK } from '../io.ts';
import { runAction, type CommandContext } from './common.ts';
import { pkiUsage, runPki } from './pki.ts';

export function registerPki(program: Command, ctx: CommandContext): void {
  program.command('pki').description('the CA and certificates of agents, coordinators and viewers')
    .helpOption(false).allowUnknownOption().allowExcessArguments().argument('[args...]')
    .action((args: string[]) => runAction(ctx, 'pki', async () => {
      if (args.includes('--help') || args.includes('-h')) {
        ctx.io.stdout(`${pkiUsage()}\n`);
        return EXIT_OK;
      }
      return runPki(args, ctx.io);
    }));
}
