/** `kip report`: the run as Markdown and as one self-contained HTML page, written next to the journal (or to --out DIR). */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { InvalidInputError } from '../../lib/errors.ts';
import { htmlReport, markdownReport } from '../report/report.ts';
import { parseSpec } from '../rollout/spec.ts';
import { EXIT_OK } from '../io.ts';
import { addStateDir, runAction, stateDirOf, type CommandContext } from './common.ts';

export function registerReport(program: Command, ctx: CommandContext): void {
  const cmd = program.command('report').description('the run as Markdown and a self-contained HTML page with a per-node timeline')
    .option('--run <id>', 'the run (default: the newest)')
    .option('--out <dir>', 'where to write <run>.md and <run>.html (default <state-dir>/reports)');
  addStateDir(cmd);
  cmd.action((opts: { run?: string; out?: string; stateDir?: string }) => runAction(ctx, 'report', async () => {
    const store = ctx.ports.openStore(stateDirOf(ctx.io, opts));
    try {
      const run = opts.run ? store.getRun(opts.run) : store.latestRun();
      if (!run) throw new InvalidInputError('RUN_NOT_FOUND', `no run${opts.run ? ` ${opts.run}` : ''} in ${stateDirOf(ctx.io, opts)}`);
      const model = { run, spec: parseSpec(run.spec), nodes: store.nodes(run.id), events: store.events(run.id), actions: store.actions(run.id), connections: store.connections(run.id) };
      const dir = opts.out ?? join(stateDirOf(ctx.io, opts), 'reports');
      await mkdir(dir, { recursive: true });
      const md = join(dir, `${run.id}.md`);
      const html = join(dir, `${run.id}.html`);
      await writeFile(md, markdownReport(model));
      await writeFile(html, htmlReport(model));
      ctx.io.stdout(`${md}\n${html}\n`);
      return EXIT_OK;
    } finally {
      store.close();
    }
  }));
}
