/**
 * The run store in SQLite (better-sqlite3, synchronous): WAL with synchronous=NORMAL, so every
 * committed write survives kill -9 of the coordinator (SQLite: "transactions are durable across
 * application crashes regardless of the synchronous setting"); each write is one transaction.
 * NORMAL rather than FULL: FULL fsyncs the WAL on every commit (1-3 ms here, on the event loop,
 * once or twice per node: the scheduling bench spent most of its time in it). A power loss of the
 * coordinator's host may roll back the last commits but never corrupts the file; resume repairs
 * that, because agent run ids derive from the node record (same attempt -> same id) and an agent
 * replays a run id it knows instead of executing it again. The schema version is PRAGMA user_version.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { KipError } from '../../lib/errors.ts';
import { seaNativeAddon } from '../../lib/sea-addon.ts';
import { STORE_SCHEMA_VERSION, StoreTooNewError, type ActionRecord, type ConnectionRecord, type EventRecord, type NodeRecord, type RunPhase, type RunRecord, type RunStore } from './store.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY, cluster TEXT NOT NULL, target TEXT NOT NULL, phase TEXT NOT NULL, reason TEXT NOT NULL,
  spec TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS nodes (
  run_id TEXT NOT NULL, step INTEGER NOT NULL, node TEXT NOT NULL, from_version TEXT NOT NULL, to_version TEXT NOT NULL,
  phase TEXT NOT NULL, agent_run_id TEXT NOT NULL, attempt INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER,
  downtime_ms INTEGER, error TEXT NOT NULL, PRIMARY KEY (run_id, step, node)
);
CREATE TABLE IF NOT EXISTS actions (
  id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, kind TEXT NOT NULL, node TEXT NOT NULL, payload TEXT NOT NULL,
  begun_at INTEGER NOT NULL, outcome TEXT, result TEXT NOT NULL DEFAULT '', finished_at INTEGER
);
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, at INTEGER NOT NULL, node TEXT NOT NULL, kind TEXT NOT NULL, message TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS watch_cursors (
  run_id TEXT NOT NULL, node TEXT NOT NULL, sequence INTEGER NOT NULL, PRIMARY KEY (run_id, node)
);
CREATE TABLE IF NOT EXISTS connections (
  run_id TEXT NOT NULL, step INTEGER NOT NULL, node TEXT NOT NULL, phase TEXT NOT NULL, at INTEGER NOT NULL, counts TEXT NOT NULL,
  closed_errors INTEGER NOT NULL, PRIMARY KEY (run_id, step, node, phase)
);
CREATE INDEX IF NOT EXISTS actions_run ON actions (run_id, id);
CREATE INDEX IF NOT EXISTS events_run ON events (run_id, seq);
`;

export class StoreError extends KipError {}

interface RunRow { id: string; cluster: string; target: string; phase: RunPhase; reason: string; spec: string; created_at: number; updated_at: number }
interface NodeRow { run_id: string; step: number; node: string; from_version: string; to_version: string; phase: NodeRecord['phase']; agent_run_id: string; attempt: number; started_at: number | null; finished_at: number | null; downtime_ms: number | null; error: string }
interface ActionRow { id: number; run_id: string; kind: string; node: string; payload: string; begun_at: number; outcome: 'ok' | 'error' | null; result: string; finished_at: number | null }
interface EventRow { run_id: string; at: number; node: string; kind: string; message: string }
interface ConnectionRow { run_id: string; step: number; node: string; phase: 'before' | 'after'; at: number; counts: string; closed_errors: number }

const run = (r: RunRow): RunRecord => ({ id: r.id, cluster: r.cluster, target: r.target, phase: r.phase, reason: r.reason, spec: r.spec, createdAt: r.created_at, updatedAt: r.updated_at });
const node = (r: NodeRow): NodeRecord => ({
  runId: r.run_id, step: r.step, node: r.node, from: r.from_version, to: r.to_version, phase: r.phase, agentRunId: r.agent_run_id, attempt: r.attempt,
  startedAt: r.started_at, finishedAt: r.finished_at, downtimeMs: r.downtime_ms, error: r.error,
});
const action = (r: ActionRow): ActionRecord => ({ id: r.id, runId: r.run_id, kind: r.kind, node: r.node, payload: r.payload, begunAt: r.begun_at, outcome: r.outcome, result: r.result, finishedAt: r.finished_at });

export function openSqliteStore(path: string): RunStore {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let db: Database.Database;
  try {
    // In the packaged kip the addon is a SEA asset (lib/sea-addon.ts); from a checkout, node_modules.
    // better-sqlite3 takes "a string or addon object" as nativeBinding (lib/database.js); its
    // types (@types/better-sqlite3 9.6) know only the string.
    const addon = seaNativeAddon('better_sqlite3.node');
    db = addon ? new Database(path, { nativeBinding: addon as unknown as string }) : new Database(path);
  } catch (cause) {
    throw new StoreError('STORE_OPEN_FAILED', `cannot open the run store ${path}: ${cause instanceof Error ? cause.message : String(cause)}`, { path }, { cause });
  }
  const found = db.pragma('user_version', { simple: true }) as number;
  if (found > STORE_SCHEMA_VERSION) {
    db.close();
    throw new StoreTooNewError(path, found);
  }
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.exec(SCHEMA);
  if (found < STORE_SCHEMA_VERSION) db.pragma(`user_version = ${STORE_SCHEMA_VERSION}`);

  const q = {
    insertRun: db.prepare('INSERT INTO runs (id, cluster, target, phase, reason, spec, created_at, updated_at) VALUES (@id, @cluster, @target, @phase, @reason, @spec, @createdAt, @createdAt)'),
    getRun: db.prepare<[string], RunRow>('SELECT * FROM runs WHERE id = ?'),
    latest: db.prepare<[], RunRow>('SELECT * FROM runs ORDER BY created_at DESC, rowid DESC LIMIT 1'),
    latestOf: db.prepare<[string], RunRow>('SELECT * FROM runs WHERE cluster = ? ORDER BY created_at DESC, rowid DESC LIMIT 1'),
    setPhase: db.prepare('UPDATE runs SET phase = ?, reason = ?, updated_at = ? WHERE id = ?'),
    nodes: db.prepare<[string], NodeRow>('SELECT * FROM nodes WHERE run_id = ? ORDER BY step, node'),
    putNode: db.prepare(`INSERT INTO nodes (run_id, step, node, from_version, to_version, phase, agent_run_id, attempt, started_at, finished_at, downtime_ms, error)
      VALUES (@runId, @step, @node, @from, @to, @phase, @agentRunId, @attempt, @startedAt, @finishedAt, @downtimeMs, @error)
      ON CONFLICT (run_id, step, node) DO UPDATE SET from_version = excluded.from_version, to_version = excluded.to_version, phase = excluded.phase,
      agent_run_id = excluded.agent_run_id, attempt = excluded.attempt, started_at = excluded.started_at, finished_at = excluded.finished_at,
      downtime_ms = excluded.downtime_ms, error = excluded.error`),
    begin: db.prepare('INSERT INTO actions (run_id, kind, node, payload, begun_at) VALUES (@runId, @kind, @node, @payload, @at)'),
    finish: db.prepare('UPDATE actions SET outcome = ?, result = ?, finished_at = ? WHERE id = ? AND outcome IS NULL'),
    actions: db.prepare<[string], ActionRow>('SELECT * FROM actions WHERE run_id = ? ORDER BY id'),
    open: db.prepare<[string], ActionRow>('SELECT * FROM actions WHERE run_id = ? AND outcome IS NULL ORDER BY id'),
    cursor: db.prepare<[string, string], { sequence: number }>('SELECT sequence FROM watch_cursors WHERE run_id = ? AND node = ?'),
    setCursor: db.prepare('INSERT INTO watch_cursors (run_id, node, sequence) VALUES (?, ?, ?) ON CONFLICT (run_id, node) DO UPDATE SET sequence = excluded.sequence'),
    note: db.prepare('UPDATE actions SET result = ? WHERE id = ? AND outcome IS NULL'),
    addEvent: db.prepare('INSERT INTO events (run_id, at, node, kind, message) VALUES (@runId, @at, @node, @kind, @message)'),
    connBefore: db.prepare('INSERT OR IGNORE INTO connections (run_id, step, node, phase, at, counts, closed_errors) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    connAfter: db.prepare('INSERT OR REPLACE INTO connections (run_id, step, node, phase, at, counts, closed_errors) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    connections: db.prepare<[string], ConnectionRow>("SELECT * FROM connections WHERE run_id = ? ORDER BY step, node, CASE phase WHEN 'before' THEN 0 ELSE 1 END"),
    events: db.prepare<[string], EventRow>('SELECT run_id, at, node, kind, message FROM events WHERE run_id = ? ORDER BY seq'),
  };
  // One transaction wrapper for every write, made once (db.transaction() builds its wrapper per
  // call). A write inside a batch() joins the batch's transaction instead of opening a savepoint of
  // its own: a failed write throws out of the batch, which rolls back whole (all or nothing is what
  // a batch means; nothing catches inside one). The scheduling bench spent a third of the engine's
  // CPU in a wrapper and a SAVEPOINT/RELEASE per row.
  const tx = db.transaction((fn: () => unknown) => fn());
  const write = <T>(what: string, fn: () => T): T => {
    try {
      return (db.inTransaction ? fn() : tx(fn)) as T;
    } catch (cause) {
      if (cause instanceof StoreError) throw cause;
      throw new StoreError('STORE_WRITE_FAILED', `run store ${path}: ${what} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { path, what }, { cause });
    }
  };
  return {
    createRun: (r) => write('create run', () => q.insertRun.run(r)),
    getRun: (id) => {
      const r = q.getRun.get(id);
      return r && run(r);
    },
    latestRun: (cluster) => {
      const r = cluster === undefined ? q.latest.get() : q.latestOf.get(cluster);
      return r && run(r);
    },
    setRunPhase: (id, phase, reason, at) => write('set run phase', () => q.setPhase.run(phase, reason, at, id)),
    nodes: (runId) => q.nodes.all(runId).map(node),
    putNode: (n) => write('put node', () => q.putNode.run(n)),
    beginAction: (a) => write('begin action', () => Number(q.begin.run(a).lastInsertRowid)),
    finishAction: (id, outcome, result, at) => write('finish action', () => q.finish.run(outcome, result, at, id)),
    actions: (runId) => q.actions.all(runId).map(action),
    openActions: (runId) => q.open.all(runId).map(action),
    addEvent: (e) => write('add event', () => q.addEvent.run(e)),
    events: (runId) => q.events.all(runId).map((e) => ({ runId: e.run_id, at: e.at, node: e.node, kind: e.kind, message: e.message })),
    watchCursor: (runId, n) => q.cursor.get(runId, n)?.sequence ?? 0,
    setWatchCursor: (runId, n, seq) => write('set watch cursor', () => q.setCursor.run(runId, n, seq)),
    noteAction: (id, result) => write('note action', () => q.note.run(result, id)),
    recordConnections: (c: ConnectionRecord) => write('record connections', () => (c.when === 'before' ? q.connBefore : q.connAfter).run(c.runId, c.step, c.node, c.when, c.at, JSON.stringify(c.counts), c.closedConnectionErrors)),
    connections: (runId) => q.connections.all(runId).map((r) => ({ runId: r.run_id, step: r.step, node: r.node, when: r.phase, at: r.at, counts: JSON.parse(r.counts) as Record<string, number>, closedConnectionErrors: r.closed_errors })),
    batch: (fn) => write('batch', fn),
    close: () => db.close(),
  };
}
