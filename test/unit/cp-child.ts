/** A coordinator process over the fake control-plane world, for the kill -9 tests: `tsx cp-child.ts DIR create|resume`. */
import { join } from 'node:path';
import { main } from '../../coordinator/cli.ts';
import type { CliIo } from '../../coordinator/io.ts';
import { CpWorldFile, makeCpWorld } from './cp-fakes.ts';
import { cpPorts, upgradeArgs } from './cp-setup.ts';

const [dir, mode] = process.argv.slice(2) as [string, string];
const path = join(dir, 'world.json');
const world = mode === 'create' ? makeCpWorld(path, { extra: { durationMs: 60 } }) : new CpWorldFile(path);
const io: CliIo = { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stdout.write(s), readInput: async () => '', env: {}, stdoutIsTTY: false };
const args = mode === 'create' ? upgradeArgs(dir) : ['resume', '--state-dir', dir, '--kubeconfig', '/dev/null'];
const code = await main(args, io, cpPorts(world, dir));
process.stdout.write(`EXIT ${code}\n`);
