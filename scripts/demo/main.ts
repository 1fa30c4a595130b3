/**
 * `npm run demo` (after scripts/demo.sh has brought the lab up): composition root of the demo.
 *   tsx scripts/demo/main.ts [--unpatched] [--to v1.17.17] [--state-dir DIR]
 *
 * Both are the kip CLI against the lab. Patched (the default, ./cli-demo.ts): the whole upgrade,
 * exit 0 when it completed with no container restarted. --unpatched (./unpatched-demo.ts, on a lab
 * brought up --unpatched): upstream kubelets restart containers, so `kip upgrade` must pause;
 * exit 0 when it paused on the restarts kip predicted, and the rollback behaved as predicted.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { isKipError } from '../../lib/errors.ts';
import { DEFAULT_STATE_DIR, readLabState } from '../lab/lab.ts';
import { formatCliDemoReport, runCliDemo } from './cli-demo.ts';
import { formatUnpatchedReport, runUnpatchedDemo } from './unpatched-demo.ts';
import { wireCliDemo } from './wire.ts';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      unpatched: { type: 'boolean', default: false },
      to: { type: 'string', default: 'v1.17.17' },
      'state-dir': { type: 'string', default: process.env.KIP_LAB_DIR ?? DEFAULT_STATE_DIR },
    },
  });
  const stateDir = values['state-dir'];
  const state = await readLabState(stateDir);
  if (!state || state.status !== 'up') {
    process.stderr.write(`kip demo: no lab is up in ${stateDir} (status: ${state?.status ?? 'none'}): run kip-lab up first\n`);
    return 2;
  }
  const footer = `the lab stays up: kubectl --kubeconfig ${state.kubeconfig} get pods -A; take it down with: npm exec -- kip-lab down`;
  if (values.unpatched === state.options.patched) {
    process.stderr.write(`kip demo: the lab in ${stateDir} runs ${state.options.patched ? 'patched' : 'unpatched'} kubelets; bring it up${values.unpatched ? ' with' : ' without'} --unpatched (npm run demo${values.unpatched ? ' -- --unpatched' : ''} does)\n`);
    return 2;
  }
  const path = join(stateDir, 'demo-report.json');
  const cli = await wireCliDemo(state, (line) => process.stdout.write(`${line}\n`));
  try {
    if (values.unpatched) {
      const report = await runUnpatchedDemo(values.to, cli.deps);
      await writeFile(path, `${JSON.stringify(report, null, 2)}\n`);
      process.stdout.write(`\n${formatUnpatchedReport(report)}\ndemo figures: ${path}\n${footer}\n`);
      return report.expected ? 0 : 1;
    }
    const report = await runCliDemo(values.to, cli.deps);
    await writeFile(path, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`\n${formatCliDemoReport(report)}\ndemo figures: ${path}\n${footer}\n`);
    return report.outcome === 'completed' && report.restartedTotal === 0 ? 0 : 1;
  } finally {
    cli.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`kip demo failed: ${isKipError(err) ? `${err.message} [${err.code}]` : err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  },
);
