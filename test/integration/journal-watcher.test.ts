/**
 * The kubelet journal watcher against a real journald, inside an nspawn node: a kubelet stand-in
 * unit prints the kubelet's real log lines; the watcher (journalctl -u -f -o json run inside the
 * node) turns them into events, survives its journalctl being killed, and resumes after the last
 * cursor: every line is reported exactly once.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJournal, createSystemd, type Systemd } from '../../agent/systemd/index.ts';
import { EventLog, type NodeEventKind } from '../../agent/watch/event-log.ts';
import { JournalWatcher } from '../../agent/watch/journal-watcher.ts';
import { systemClock } from '../../lib/clock.ts';
import { silentLogger } from '../../lib/logger.ts';
import { waitFor } from '../../lib/poll.ts';
import { bootNode, ensureBaseImage, type NspawnNode } from '../../scripts/nspawn/index.ts';

const UNIT = 'kubelet.service';
// The kubelet's wording (see agent/watch/journal-watcher.ts for the source of each line).
const LINES = [
  'I1201 10:00:00.000000 1 kuberuntime_manager.go:549] Container "app" (docker://abc) of pod web-1_ns(uid-1): Container app definition changed',
  'I1201 10:00:00.000001 1 kubelet_pods.go:1088] Killing unwanted pod "web-2"',
  'W1201 10:00:00.000002 1 predicate.go:132] Failed to admit pod "web-3_ns(uid-3)" - Predicate MatchNodeSelector failed',
  'E1201 10:00:00.000003 1 reflector.go:283] watch of *v1.Pod ended with: write tcp 10.0.0.5:51234->10.0.0.1:6443: use of closed network connection',
  'E1201 10:00:00.000004 1 kubelet_node_status.go:402] Error updating node status: use of closed network connection',
];
const STANDIN = `#!/bin/sh\ncat <<'KIP_EOF'\n${LINES.join('\n')}\nKIP_EOF\nexec sleep infinity\n`;
const UNIT_FILE = `[Unit]
Description=kip kubelet stand-in printing real kubelet log lines
[Service]
ExecStart=/usr/local/bin/kubelet-standin
`;

describe('JournalWatcher against journald (nspawn node)', () => {
  let tmp = '';
  let node: NspawnNode | undefined;
  let systemd: Systemd;

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'kip-journal-watch-'));
    const base = await ensureBaseImage();
    node = await bootNode({ name: 'kip-jw-test', base, workDir: join(tmp, 'node') });
    await node.waitForSystemd(90_000);
    await writeFile(join(node.root, 'etc/systemd/system', UNIT), UNIT_FILE);
    await mkdir(join(node.root, 'usr/local/bin'), { recursive: true });
    await writeFile(join(node.root, 'usr/local/bin/kubelet-standin'), STANDIN, { mode: 0o755 });
    systemd = createSystemd(node.exec);
    await systemd.daemonReload();
  }, 180_000);

  afterAll(async () => {
    await node?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }, 60_000);

  it('reports each kubelet line once across a killed journalctl', async () => {
    const n = node!;
    const log = new EventLog(1_000);
    const watcher = new JournalWatcher({ journal: createJournal(n.exec, { spawn: n.spawn }), unit: UNIT, log, clock: systemClock, logger: silentLogger(), minBackoffMs: 200, maxBackoffMs: 1_000 });
    const journalctlPid = () =>
      waitFor('journalctl --follow inside the node', async () => {
        // The follow, not the one-shot read the watcher does first.
        const r = await n.exec('pgrep', ['-f', 'journalctl .*--follow'], { timeoutMs: 20_000 });
        return r.exitCode === 0 ? r.stdout.trim().split('\n')[0] : undefined;
      }, { timeoutMs: 30_000, intervalMs: 100 });
    const count = (k: NodeEventKind) => log.since(0).filter((e) => e.kind === k).length;
    watcher.start();
    try {
      await journalctlPid();
      await systemd.start(UNIT);
      await waitFor('the first run\'s events', async () => (count('KUBELET_PREDICATE_FAILED') === 1 ? true : undefined), { timeoutMs: 30_000, intervalMs: 100 }).catch(async (err: unknown) => {
        const j = await n.exec('journalctl', ['-u', UNIT, '--no-pager', '-n', '20'], { timeoutMs: 20_000 });
        throw new Error(`${String(err)}; events ${JSON.stringify(log.since(0).map((e) => e.kind))}; journal:\n${j.stdout}${j.stderr}`);
      });
      expect(log.since(0).find((e) => e.kind === 'KUBELET_CONTAINER_DEFINITION_CHANGED')).toMatchObject({ containerName: 'app', podName: 'web-1', podNamespace: 'ns', podUid: 'uid-1' });
      expect(log.since(0).find((e) => e.kind === 'KUBELET_KILLING_UNWANTED_POD')).toMatchObject({ podName: 'web-2' });
      expect(log.since(0).find((e) => e.kind === 'KUBELET_PREDICATE_FAILED')).toMatchObject({ reason: 'MatchNodeSelector', podName: 'web-3' });

      // journalctl dies (by its pid, inside the node); the kubelet logs again meanwhile.
      const first = await journalctlPid();
      const unavailable = count('JOURNAL_UNAVAILABLE');
      const killed = await n.exec('/bin/sh', ['-c', 'kill -9 "$0"', first], { timeoutMs: 10_000 });
      expect(killed.stderr).toBe('');
      expect(killed.exitCode).toBe(0);
      await waitFor('JOURNAL_UNAVAILABLE', async () => (count('JOURNAL_UNAVAILABLE') > unavailable ? true : undefined), { timeoutMs: 30_000, intervalMs: 100 });
      await systemd.restart(UNIT);
      const second = await journalctlPid();
      expect(second).not.toBe(first);
      await waitFor('the second run\'s events', async () => (count('KUBELET_PREDICATE_FAILED') === 2 ? true : undefined), { timeoutMs: 30_000, intervalMs: 100 });
      expect(count('KUBELET_CONTAINER_DEFINITION_CHANGED')).toBe(2);
      expect(count('KUBELET_KILLING_UNWANTED_POD')).toBe(2);
      expect(watcher.followRestarts).toBeGreaterThanOrEqual(1);

      // Four closed-connection lines in all, counted per minute once the minute is over.
      watcher.flush(systemClock.now() + 120_000);
      const closed = log.since(0).filter((e) => e.kind === 'KUBELET_APISERVER_CONNECTION_ERRORS');
      expect(closed.reduce((n2, e) => n2 + (e.restarts ?? 0), 0)).toBe(4);
    } finally {
      await watcher.stop();
    }
  }, 180_000);
});
