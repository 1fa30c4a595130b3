/**
 * A kip-agent in its own process for tests that must see whether the process survives: the real
 * gRPC server and handlers, wired as agent/main.ts wires them (isolated, audited exec of binaries
 * under inspection; staging quota; stale temps removed), over the fake node of the unit tests.
 * argv: <pki dir>. Prints one JSON line `{"port":..,"stateDir":..}` on stderr when ready; logs go
 * to stdout. SIGTERM ends it (and removes its temp root).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isolatedExec } from '../../lib/exec.ts';
import { createLogger } from '../../lib/logger.ts';
import { auditedExec } from '../../agent/audit.ts';
import { createAgentHandlers, startAgentServer } from '../../agent/server.ts';
import { nodeFileSystem } from '../../agent/upgrade/fs.ts';
import { kubeletBinaryPort } from '../../agent/upgrade/wiring.ts';
import { makeHarness } from '../unit/upgrade-fakes.ts';

const pkiDir = process.argv[2];
if (!pkiDir) throw new Error('usage: grpc-agent-child.ts <pki dir>');
const logger = createLogger({ name: 'kip-agent', level: 'info' });
const h = await makeHarness();
const made = h.makeAgent({ kubelet: kubeletBinaryPort(auditedExec(isolatedExec, logger), 5_000), stableMs: 200, verifyTimeoutMs: 10_000 });
await made.agent.start();
await made.stage.removeStaleTemps();
const r = (f: string) => readFile(path.join(pkiDir, f));
const server = await startAgentServer({
  address: '127.0.0.1:0',
  tls: { ca: await r('ca.crt'), cert: await r('agent.crt'), key: await r('agent.key') },
  handlers: createAgentHandlers(made.agent, made.stage, logger, { stageIdleTimeoutMs: 30_000 }),
  logger,
});
process.stderr.write(`${JSON.stringify({ port: server.port, stateDir: h.stateDir })}\n`);
process.once('SIGTERM', () => {
  void server.shutdown(1_000).then(async () => {
    await h.cleanup();
    process.exit(0);
  });
});
