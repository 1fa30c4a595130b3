/**
 * The real collaborators of the kip CLI: the cluster through lib/kube (client-node), the agents
 * through coordinator/fleet (grpc-js), the SQLite run store, the system clock, a pino logger on
 * standard error. Its own module, imported by coordinator/cli.ts only once a command's action
 * runs, so `kip --help` and a bad command line never load client-node, grpc or SQLite (issue 12:
 * `kip --help` under 300 ms).
 */
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../lib/clock.ts';
import { InvalidInputError } from '../lib/errors.ts';
import { createLogger } from '../lib/logger.ts';
import { kubeCluster } from './cluster.ts';
import { AgentConnection } from './fleet/client.ts';
import type { CliIo } from './io.ts';
import type { CliPorts } from './ports.ts';
import { openSqliteStore } from './store/sqlite.ts';

export function productionPorts(io: CliIo): CliPorts {
  const logger = createLogger({ name: 'kip', level: io.env?.KIP_LOG_LEVEL ?? 'warn', destination: process.stderr });
  return {
    cluster: (options) => kubeCluster(options, { clock: systemClock, logger }),
    agentTls: async (dir) => {
      const read = async (name: string): Promise<Buffer> => {
        try {
          return await readFile(join(dir, name));
        } catch (cause) {
          throw new InvalidInputError('PKI_UNREADABLE', `--pki-dir ${dir}: cannot read ${name} (${(cause as NodeJS.ErrnoException).code ?? String(cause)}): it needs ca.crt, coordinator.crt and coordinator.key`, { dir, file: name }, { cause });
        }
      };
      return { ca: await read('ca.crt'), cert: await read('coordinator.crt'), key: await read('coordinator.key') };
    },
    agent: (endpoint, tls) => new AgentConnection({ address: endpoint.address, tls, ...(endpoint.serverName ? { serverName: endpoint.serverName } : {}) }),
    openStore: (dir) => openSqliteStore(join(dir, 'runs.db')),
    clock: systemClock,
    logger,
    identity: `${hostname()}/${process.pid}`,
  };
}
