/**
 * `npm run bench [-- <suite> ...]`: every benchmark suite (or the named ones), printing figures.
 * Suites are loaded only when they run, so a suite's memory figures carry no other suite's
 * modules (the lab and nspawn harnesses alone add >100 MB to the process).
 * Register a suite with one line: name -> loader of its run function.
 */
type Suite = () => Promise<void>;

const suites: Record<string, Suite> = {
  hash: async () => (await import('./hash.ts')).runHashBench(),
  coordinator: async () => (await import('./coordinator.ts')).runCoordinatorBench(),
  stage: async () => (await import('./stage.ts')).runStageBench(),
  etcd: async () => (await import('./etcd.ts')).runEtcdBench(),
  eyes: async () => (await import('./eyes.ts')).runEyesBench(),
  inventory: async () => (await import('./inventory.ts')).runInventoryBench(),
  agent: async () => (await import('./agent.ts')).runAgentBench(),
  components: async () => (await import('./components.ts')).runComponentsBench(),
  package: async () => (await import('./package.ts')).runPackageBench(),
  lab: async () => (await import('./lab.ts')).runLabBench(),
  ansible: async () => (await import('./ansible.ts')).runAnsibleBench(),
};

const only = process.argv.slice(2);
const unknown = only.filter((n) => !(n in suites));
if (unknown.length > 0) {
  process.stderr.write(`unknown bench suite${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; known: ${Object.keys(suites).join(', ')}\n`);
  process.exit(2);
}
for (const [name, run] of Object.entries(suites)) {
  if (only.length > 0 && !only.includes(name)) continue;
  const t0 = performance.now();
  process.stdout.write(`== ${name}\n`);
  await run();
  process.stdout.write(`== ${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}
