/**
 * The coordinator's Watch client and gates over the real kip-agent gRPC server (mutual TLS on
 * 127.0.0.1, the agent's own EventLog and Watch handler): events stream in order from a sequence,
 * WATCH_SEQUENCE_EXPIRED arrives as a typed error with the agent's oldest/latest, and WatchGates
 * re-lists from the oldest held, stores its cursor and trips on a container restart.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../lib/clock.ts';
import { isKipError } from '../../lib/errors.ts';
import { silentLogger } from '../../lib/logger.ts';
import { createAgentHandlers, startAgentServer, type RunningServer } from '../../agent/server.ts';
import { createWatchHandlers } from '../../agent/server-watch.ts';
import { EventLog } from '../../agent/watch/event-log.ts';
import { AgentConnection } from '../../coordinator/fleet/client.ts';
import type { WatchEvent } from '../../coordinator/fleet/port.ts';
import { WatchGates } from '../../coordinator/rollout/watch-gate.ts';
import { openSqliteStore } from '../../coordinator/store/sqlite.ts';
import { makeHarness, type Harness } from '../unit/upgrade-fakes.ts';
import { makeTestPki, type TestPki } from '../../scripts/nspawn/test-pki.ts';

let tmp = '';
let pki: TestPki;
let h: Harness;
let server: RunningServer;
let conn: AgentConnection;
const log = new EventLog(4);

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'kip-coord-watch-'));
  pki = await makeTestPki(path.join(tmp, 'pki'));
  h = await makeHarness();
  const made = h.makeAgent({});
  const watch = createWatchHandlers({ events: log, logger: silentLogger() });
  server = await startAgentServer({ address: '127.0.0.1:0', tls: pki.server, handlers: createAgentHandlers(made.agent, made.stage, silentLogger(), {}, watch), logger: silentLogger() });
  conn = new AgentConnection({ address: `127.0.0.1:${server.port}`, tls: pki.client });
}, 60_000);

afterAll(async () => {
  conn?.close();
  await server?.shutdown(2_000);
  await h?.cleanup();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const restarted = (name: string) => ({ kind: 'CONTAINER_RESTARTED' as const, observedAtMs: Date.now(), podUid: `u-${name}`, podNamespace: 'default', podName: name, containerName: 'main', restarts: 1 });

describe('Watch over the real agent', () => {
  it('streams the events after a sequence, then new ones; a sequence no longer held is WATCH_SEQUENCE_EXPIRED with the agent\'s oldest', async () => {
    log.append({ kind: 'KUBELET_STARTED', observedAtMs: Date.now() });
    log.append(restarted('a'));
    const ac = new AbortController();
    const got: WatchEvent[] = [];
    const reading = (async () => {
      for await (const e of conn.watch(1, ac.signal)) {
        got.push(e);
        // appended once the stream is open and replayed: followed
        if (got.length === 1) log.append(restarted('b'));
        if (got.length === 2) ac.abort();
      }
    })();
    await reading;
    expect(got.map((e) => [e.sequence, e.kind, e.podName])).toEqual([[2, 'CONTAINER_RESTARTED', 'a'], [3, 'CONTAINER_RESTARTED', 'b']]);

    for (let i = 0; i < 6; i++) log.append({ kind: 'KUBELET_STARTED', observedAtMs: Date.now() });
    const expired = await (async () => {
      try {
        for await (const _ of conn.watch(1, new AbortController().signal)) return undefined;
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(isKipError(expired) && expired.code).toBe('WATCH_SEQUENCE_EXPIRED');
    expect(isKipError(expired) && expired.details).toMatchObject({ requested: 1, oldest: log.oldest(), latest: log.latest() });
  });

  it('WatchGates: re-lists from the oldest held after expiry, stores the cursor, trips on a container restart', async () => {
    const store = openSqliteStore(path.join(tmp, 'runs.db'));
    store.createRun({ id: 'r1', cluster: 'x', target: 'v1', phase: 'running', reason: '', spec: '{}', createdAt: 0 });
    store.setWatchCursor('r1', 'node-1', 1);
    const gates = new WatchGates({ runId: 'r1', store, clock: systemClock, logger: silentLogger(), agents: new Map([['node-1', conn]]) });
    const off = gates.activate();
    const tripped = new Promise<void>((resolve) => gates.onTrip(resolve));
    gates.start();
    const e = log.append(restarted('web'));
    await tripped;
    expect(gates.tripped()).toBe(`container restarted on node-1: default/web/main [watch seq ${e.sequence}]`);
    expect(store.events('r1').map((x) => x.kind)).toEqual(['watch-expired', 'gate']);
    await gates.stop();
    off();
    expect(store.watchCursor('r1', 'node-1')).toBe(e.sequence);
    store.close();
  });
});
