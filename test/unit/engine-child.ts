/** A coordinator process over the fake world, for the kill -9 tests: `tsx engine-child.ts DIR create|resume`. */
import { parseSpec } from '../../coordinator/rollout/spec.ts';
import { createRun, engineOver, makeWorld, openStore, RUN_ID, specFor } from './engine-setup.ts';
import { WorldFile } from './engine-fakes.ts';
import { join } from 'node:path';

const [dir, mode] = process.argv.slice(2) as [string, string];
const store = openStore(dir);
let world: WorldFile;
if (mode === 'create') {
  world = makeWorld(dir, 6, { durationMs: 120 });
  createRun(store, specFor(world, { maxConcurrency: 2, canary: { count: 1 } }));
} else {
  world = new WorldFile(join(dir, 'world.json'));
}
const spec = parseSpec(store.getRun(RUN_ID)!.spec);
const { outcome } = await engineOver(world, store, spec, { progress: (l) => process.stdout.write(`${l}\n`) });
process.stdout.write(`OUTCOME ${JSON.stringify(outcome)}\n`);
store.close();
