/**
 * `npm run bench`: every benchmark suite, printing figures. Suites are plain modules; each
 * prints its own lines. Speed is measured here, never asserted in tests.
 */
import { runHashBench } from './hash.ts';
import { runAgentBench } from './agent.ts';
import { runLabBench } from './lab.ts';
import { runPackageBench } from './package.ts';
import { runCoordinatorBench } from './coordinator.ts';
import { runAnsibleBench } from './ansible.ts';

const suites: Record<string, () => void | Promise<void>> = {
  hash: runHashBench,
  agent: runAgentBench,
  lab: runLabBench,
  package: runPackageBench,
  coordinator: runCoordinatorBench,
  ansible: runAnsibleBench,
};

const only = process.argv.slice(2);
for (const [name, run] of Object.entries(suites)) {
  if (only.length > 0 && !only.includes(name)) continue;
  process.stdout.write(`== ${name}\n`);
  await run();
}
