#!/usr/bin/env node
// kip-lab: a whole cluster on this machine for rehearsals, the demo and e2e tests (scripts/lab/).
// Its own entry so that no production kip command loads lab code.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../scripts/lab/cli.ts');
process.exitCode = await main(process.argv.slice(2));
