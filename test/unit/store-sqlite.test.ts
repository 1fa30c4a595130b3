import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../coordinator/store/sqlite.ts';
import { STORE_SCHEMA_VERSION, StoreTooNewError } from '../../coordinator/store/store.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kip-store-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('SQLite run store', () => {
  it('journals actions before and after, and lists the open ones', () => {
    const s = openSqliteStore(join(dir, 'runs.db'));
    s.createRun({ id: 'r', cluster: 'https://a', target: 'v1.17.17', phase: 'running', reason: '', spec: '{}', createdAt: 1 });
    const a = s.beginAction({ runId: 'r', kind: 'kubelet-upgrade', node: 'w1', payload: '{"x":1}', at: 2 });
    const b = s.beginAction({ runId: 'r', kind: 'kubelet-upgrade', node: 'w2', payload: '{}', at: 3 });
    s.finishAction(a, 'ok', 'done', 4);
    s.finishAction(a, 'error', 'again', 5); // an outcome is written once
    expect(s.openActions('r').map((x) => x.id)).toEqual([b]);
    expect(s.actions('r').find((x) => x.id === a)).toMatchObject({ outcome: 'ok', result: 'done', finishedAt: 4 });
    s.putNode({ runId: 'r', step: 0, node: 'w1', from: 'v1.16.15', to: 'v1.17.17', phase: 'upgrading', agentRunId: 'r.a1', attempt: 1, startedAt: 2, finishedAt: null, downtimeMs: null, error: '' });
    s.putNode({ runId: 'r', step: 0, node: 'w1', from: 'v1.16.15', to: 'v1.17.17', phase: 'succeeded', agentRunId: 'r.a1', attempt: 1, startedAt: 2, finishedAt: 9, downtimeMs: 700, error: '' });
    expect(s.nodes('r')).toEqual([expect.objectContaining({ node: 'w1', phase: 'succeeded', downtimeMs: 700 })]);
    s.setRunPhase('r', 'paused', 'node w2 failed', 10);
    expect(s.latestRun('https://a')).toMatchObject({ id: 'r', phase: 'paused', reason: 'node w2 failed', updatedAt: 10 });
    expect(s.latestRun('https://other')).toBeUndefined();
    s.close();
    // durable across a reopen
    const again = openSqliteStore(join(dir, 'runs.db'));
    expect(again.openActions('r')).toHaveLength(1);
    again.close();
  });

  it('refuses a store written by a newer kip (exit 2), and leaves it untouched', () => {
    const path = join(dir, 'runs.db');
    openSqliteStore(path).close();
    const db = new Database(path);
    db.pragma(`user_version = ${STORE_SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => openSqliteStore(path)).toThrow(StoreTooNewError);
    expect(() => openSqliteStore(path)).toThrow(new RegExp(`schema version ${STORE_SCHEMA_VERSION + 1}, written by a newer kip`));
    const check = new Database(path);
    expect(check.pragma('user_version', { simple: true })).toBe(STORE_SCHEMA_VERSION + 1);
    check.close();
  });
});
