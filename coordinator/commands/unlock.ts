/** `kip unlock --force`: removes the cluster's upgrade lock, whoever holds it (explicit by design). */
import type { Command } from 'commander';
import { InvalidInputError } from '../../lib/errors.ts';
import { EXIT_OK } from '../io.ts';
import { addDryRun, addKubeOptions, kubeOptions, runAction, type CommandContext } from './common.ts';

export function registerUnlock(program: Command, ctx: CommandContext): void {
  const cmd = program.command('unlock').description('remove the cluster\'s upgrade lock (needs --force)').option('--force', 'really remove it, whoever holds it', false);
  for (const add of [addKubeOptions, addDryRun]) add(cmd);
  cmd.action((opts: { force: boolean; dryRun: boolean; kubeconfig?: string; context?: string }) => runAction(ctx, 'unlock', async () => {
    const cluster = await ctx.ports.cluster(kubeOptions(ctx.io, opts));
    const where = await cluster.lock.where();
    const held = await cluster.lock.read();
    const who = held ? `run ${held.runId} by ${held.holder}` : 'nobody';
    if (opts.dryRun) {
      ctx.io.stdout(`${where} is held by ${who}; kip unlock --force would remove it\n(dry run: nothing changed)\n`);
      return EXIT_OK;
    }
    if (!opts.force) throw new InvalidInputError('UNLOCK_NEEDS_FORCE', `${where} is held by ${who}: removing it lets a second run start while this one may still act; pass --force if no coordinator runs`);
    const was = await cluster.lock.forceRelease();
    ctx.io.stdout(was ? `removed ${where} (held by run ${was.runId} by ${was.holder})\n` : `${where} was not held\n`);
    return EXIT_OK;
  }));
}
