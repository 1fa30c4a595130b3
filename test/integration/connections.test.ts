/**
 * Connection counting against a real process: a child node process holds N connections to one
 * local listener and M to another (IPv4 and, where the host has it, IPv6), the count is read from
 * /proc/<pid>/fd and /proc/<pid>/net/tcp{,6}, then the child drops some and the count follows.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionsTo, decodeProcAddress, parseProcNetTcp, type Endpoint } from '../../agent/watch/connections.ts';
import { execaStreamSpawn, type StreamProcess } from '../../agent/systemd/stream.ts';
import { waitFor } from '../../lib/poll.ts';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAgentHandlers, startAgentServer } from '../../agent/server.ts';
import { eyesNodeFields } from '../../agent/server-watch.ts';
import { EventLog } from '../../agent/watch/event-log.ts';
import { NodeWatcher } from '../../agent/watch/node-watcher.ts';
import { AgentConnection } from '../../coordinator/fleet/client.ts';
import { systemClock } from '../../lib/clock.ts';
import { silentLogger } from '../../lib/logger.ts';
import { makeTestPki } from '../../scripts/nspawn/test-pki.ts';
import { makeHarness } from '../unit/upgrade-fakes.ts';

const servers: Server[] = [];
const accepted: Socket[] = [];
let child: StreamProcess | undefined;

async function listen(host: string): Promise<Endpoint | undefined> {
  const s = createServer((sock) => accepted.push(sock));
  servers.push(s);
  return new Promise((resolve) => {
    s.once('error', () => resolve(undefined));
    s.listen(0, host, () => {
      const a = s.address();
      resolve(a && typeof a === 'object' ? { address: host, port: a.port } : undefined);
    });
  });
}

// The child: open the connections named in argv, say "ready", then hold them.
const CHILD = `
const net = require('node:net');
const groups = JSON.parse(process.argv[1]);
const socks = [];
let open = 0, total = groups.reduce((n, g) => n + g.n, 0);
for (const g of groups) for (let i = 0; i < g.n; i++) {
  const s = net.connect(g.port, g.address, () => { if (++open === total) console.log('ready'); });
  socks.push(s);
}
setInterval(() => {}, 1000);
`;

afterAll(async () => {
  await child?.stop();
  for (const s of accepted) s.destroy();
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
});

describe('established connections of a process per endpoint', () => {
  let v4: Endpoint;
  let v4b: Endpoint;
  let v6: Endpoint | undefined;
  beforeAll(async () => {
    v4 = (await listen('127.0.0.1'))!;
    v4b = (await listen('127.0.0.1'))!;
    v6 = await listen('::1');
  });

  it('counts N and M connections to two listeners, 0 for one never dialled, and follows a drop', async () => {
    const groups = [{ ...v4, n: 5 }, ...(v6 ? [{ ...v6, n: 3 }] : [])];
    // Through the same streaming spawner the agent uses for journalctl (argument array, stop()).
    const c = execaStreamSpawn(process.execPath, ['-e', CHILD, JSON.stringify(groups)]);
    child = c;
    const lines = c.lines[Symbol.asyncIterator]();
    expect((await lines.next()).value).toBe('ready');
    const pid = c.pid!;
    const endpoints = [v4, v4b, ...(v6 ? [v6] : [])];
    const key4 = `127.0.0.1:${v4.port}`;
    const counts = await connectionsTo(pid, endpoints);
    expect(counts[key4]).toBe(5);
    expect(counts[`127.0.0.1:${v4b.port}`]).toBe(0);
    if (v6) expect(counts[`[::1]:${v6.port}`]).toBe(3);
    // The listener's own accepted sockets belong to this process, not the child: not counted for it.
    expect(Object.values(await connectionsTo(process.pid, [v4])).reduce((a, b) => a + b, 0)).toBe(0);

    // Two connections closed by the listener's side: the child's ends leave ESTABLISHED.
    for (const s of accepted.filter((s) => s.localPort === v4.port).slice(0, 2)) s.destroy();
    const after = await waitFor('the count to drop to 3', async () => {
      const n = (await connectionsTo(pid, endpoints))[key4];
      return n === 3 ? n : undefined;
    }, { timeoutMs: 10_000, intervalMs: 50 });
    expect(after).toBe(3);
  }, 30_000);

  it('are in GetNode over gRPC, read by the node watcher from the kubelet\'s main PID', async () => {
    const pid = child!.pid!;
    const watcher = new NodeWatcher({
      reader: { listContainers: async () => [], listPodSandboxes: async () => [], containerStatus: async () => { throw new Error('none'); } },
      skipFile: async () => undefined,
      kubelet: async () => ({ active: true, mainPid: pid }),
      connections: (p) => connectionsTo(p, [v4, v4b]),
      log: new EventLog(10), clock: systemClock, logger: silentLogger(),
    });
    await watcher.pollOnce();
    const harness = await makeHarness();
    const pki = await makeTestPki(await mkdtemp(join(tmpdir(), 'kip-conn-pki-')));
    const { agent, stage } = harness.makeAgent();
    const handlers = createAgentHandlers(agent, stage, silentLogger(), { eyesNodeFields: () => eyesNodeFields(watcher.connectionCounts, undefined) });
    const server = await startAgentServer({ address: '127.0.0.1:0', tls: pki.server, handlers, logger: silentLogger() });
    const client = new AgentConnection({ address: `127.0.0.1:${server.port}`, tls: pki.client, serverName: 'localhost' });
    try {
      const node = await client.getNode();
      expect(node.apiserverConnections).toEqual([{ endpoint: `127.0.0.1:${v4.port}`, established: 3 }, { endpoint: `127.0.0.1:${v4b.port}`, established: 0 }].sort((a, b) => (a.endpoint < b.endpoint ? -1 : 1)));
    } finally {
      client.close();
      await server.shutdown(1_000);
      await harness.cleanup();
    }
  }, 30_000);

  it('decodes /proc/net addresses', () => {
    expect(decodeProcAddress('0100007F')).toBe('127.0.0.1');
    expect(decodeProcAddress('00000000000000000000000001000000')).toBe('::1');
    expect(decodeProcAddress('0000000000000000FFFF00000100007F')).toBe('127.0.0.1');
    const row = '   0: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 424242 1 0000000000000000 20 4 30 10 -1';
    expect(parseProcNetTcp(`  sl  local_address rem_address   st ...\n${row}\n`)).toEqual([{ inode: 424242, localAddress: '127.0.0.1', localPort: 8080, remoteAddress: '127.0.0.1', remotePort: 50000, state: 1 }]);
  });
});
