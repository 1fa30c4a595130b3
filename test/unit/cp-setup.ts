/** CLI ports over the fake control-plane world (cp-fakes.ts): used by the control-plane tests and their kill -9 child. */
import { join } from 'node:path';
import { systemClock } from '../../lib/clock.ts';
import { silentLogger } from '../../lib/logger.ts';
import type { CliPorts } from '../../coordinator/ports.ts';
import { openSqliteStore } from '../../coordinator/store/sqlite.ts';
import { cpAgent, cpCluster, type CpWorldFile } from './cp-fakes.ts';

export function cpPorts(world: CpWorldFile, stateDir: string): CliPorts & { cluster: () => Promise<ReturnType<typeof cpCluster>> } {
  const cluster = cpCluster(world, () => Date.now());
  return {
    cluster: async () => cluster,
    agentTls: async () => ({ ca: Buffer.from(''), cert: Buffer.from(''), key: Buffer.from('') }),
    agent: (e) => cpAgent(world, e.node, () => Date.now(), (ms) => systemClock.sleep(ms)),
    openStore: () => openSqliteStore(join(stateDir, 'runs.db')),
    clock: systemClock,
    logger: silentLogger(),
    identity: 'test-host/1',
    pollMs: 5,
  };
}

export const upgradeArgs = (stateDir: string, extra: string[] = []): string[] => ['upgrade', '--to', 'v1.13.12', '--state-dir', stateDir, '--kubeconfig', '/dev/null', '--max-concurrency', '2', '--max-unavailable', '3', ...extra];
