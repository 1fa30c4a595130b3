/**
 * `npm run demo` (after scripts/demo.sh has brought the lab up): composition root of the demo.
 *   tsx scripts/demo/main.ts [--unpatched] [--to v1.17.17] [--state-dir DIR] [--no-fix]
 *
 * Patched (the default): the kip CLI against the lab (./cli-demo.ts). --unpatched: upstream
 * kubelets restart containers, which pauses `kip upgrade` at the first one, so that comparison
 * drives the agents step by step itself (./demo.ts) to show every restart the hashes predict.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '../../lib/logger.ts';
import { isKipError } from '../../lib/errors.ts';
import { DEFAULT_STATE_DIR, readLabState } from '../lab/lab.ts';
import { formatDemoReport, runDemo } from './demo.ts';
import { formatCliDemoReport, runCliDemo } from './cli-demo.ts';
import { wireCliDemo, wireDemo } from './wire.ts';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      unpatched: { type: 'boolean', default: false },
      to: { type: 'string', default: 'v1.17.17' },
      'state-dir': { type: 'string', default: process.env.KIP_LAB_DIR ?? DEFAULT_STATE_DIR },
      'no-fix': { type: 'boolean', default: false },
    },
  });
  const stateDir = values['state-dir'];
  const state = await readLabState(stateDir);
  if (!state || state.status !== 'up') {
    process.stderr.write(`kip demo: no lab is up in ${stateDir} (status: ${state?.status ?? 'none'}): run kip-lab up first\n`);
    return 2;
  }
  const logger = createLogger({ name: 'kip-demo', level: process.env.KIP_LOG_LEVEL ?? 'warn', destination: process.stderr });
  const footer = `the lab stays up: kubectl --kubeconfig ${state.kubeconfig} get pods -A; take it down with: npm exec -- kip-lab down`;
  if (!values.unpatched) {
    const cli = await wireCliDemo(state, (line) => process.stdout.write(`${line}\n`));
    try {
      const report = await runCliDemo(values.to, cli.deps);
      const path = join(stateDir, 'demo-report.json');
      await writeFile(path, `${JSON.stringify(report, null, 2)}\n`);
      process.stdout.write(`\n${formatCliDemoReport(report)}\ndemo figures: ${path}\n${footer}\n`);
      return report.outcome === 'completed' && report.restartedTotal === 0 ? 0 : 1;
    } finally {
      cli.close();
    }
  }
  const wired = await wireDemo(state, logger, (line) => process.stdout.write(`${line}\n`));
  try {
    const report = await runDemo({ target: values.to, patched: !values.unpatched, fixSelectors: !values['no-fix'] }, wired.deps);
    const path = join(stateDir, 'demo-report.json');
    await writeFile(path, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`\n${formatDemoReport(report)}\nreport: ${path}\n${footer}\n`);
    return report.outcome === 'completed' ? 0 : 1;
  } finally {
    wired.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`kip demo failed: ${isKipError(err) ? `${err.message} [${err.code}]` : err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  },
);
