import { describe, expect, it } from 'vitest';
import { classifyKubeletLine, JournalWatcher } from '../../agent/watch/journal-watcher.ts';
import { EventLog } from '../../agent/watch/event-log.ts';
import type { JournalEntry, JournalFollowOptions } from '../../agent/systemd/index.ts';
import { JournalCommandError } from '../../agent/systemd/index.ts';
import { systemClock } from '../../lib/clock.ts';
import { silentLogger } from '../../lib/logger.ts';
import { waitFor } from '../../lib/poll.ts';

const T0 = 1_796_000_040_000; // a minute boundary in ms (29_933_334 minutes)
const entry = (n: number, message: string, atMs = T0 + n * 1000): JournalEntry => ({ cursor: `c${n}`, realtimeUsec: BigInt(atMs) * 1000n, message, fields: {} });

describe('kubelet journal lines', () => {
  it('recognises the kubelet\'s own wording', () => {
    expect(classifyKubeletLine(entry(1, 'Container "web" (docker://ab) of pod web-1_ns(uid-1): Container web definition changed'))).toMatchObject({ kind: 'KUBELET_CONTAINER_DEFINITION_CHANGED', containerName: 'web' });
    expect(classifyKubeletLine(entry(2, 'Killing unwanted pod "web-1"'))).toMatchObject({ kind: 'KUBELET_KILLING_UNWANTED_POD', podName: 'web-1' });
    expect(classifyKubeletLine(entry(3, 'Failed to admit pod "web-1_ns(uid-1)" - Predicate MatchNodeSelector failed'))).toMatchObject({ kind: 'KUBELET_PREDICATE_FAILED', reason: 'MatchNodeSelector', podName: 'web-1', podNamespace: 'ns', podUid: 'uid-1' });
    expect(classifyKubeletLine(entry(4, 'Successfully registered node n1'))).toBeUndefined();
  });
});

describe('JournalWatcher', () => {
  it('calls onUnitMessage for systemd\'s own entries about the unit (UNIT=), not for the kubelet\'s lines', () => {
    let calls = 0;
    const journal = { read: async () => [], follow: async function* () {} };
    const w = new JournalWatcher({ journal, unit: 'kubelet.service', log: new EventLog(10), clock: systemClock, logger: silentLogger(), onUnitMessage: () => calls++ });
    w.accept({ ...entry(1, 'I0101 kubelet.go:1000] Starting kubelet main sync loop.'), fields: { _SYSTEMD_UNIT: 'kubelet.service' } });
    expect(calls).toBe(0);
    w.accept({ ...entry(2, 'Stopping kubelet.service - kubelet...'), fields: { UNIT: 'kubelet.service', _PID: '1', JOB_TYPE: 'stop' } });
    expect(calls).toBe(1);
    w.accept({ ...entry(3, 'Stopping docker.service...'), fields: { UNIT: 'docker.service', _PID: '1' } });
    expect(calls).toBe(1);
  });

  it('survives journalctl ending, resumes after the last cursor, and counts closed connections per minute', async () => {
    const calls: (string | undefined)[] = [];
    const batches: JournalEntry[][] = [
      [entry(1, 'E0101 http2: use of closed network connection'), entry(2, 'Killing unwanted pod "a"'), entry(3, 'write tcp 1.2.3.4:5->6.7.8.9:443: use of closed network connection')],
      [entry(70, 'Container app definition changed', T0 + 70_000)],
    ];
    const journal = {
      read: async () => [],
      follow(_unit: string, opts: JournalFollowOptions): AsyncIterable<JournalEntry> {
        calls.push(opts.afterCursor);
        const batch = batches.shift();
        return {
          async *[Symbol.asyncIterator]() {
            for (const e of batch ?? []) yield e;
            if (batch) throw new JournalCommandError('journalctl --follow ended (exit 1)', { unit: 'kubelet.service', args: [], exitCode: 1, stderr: '', timedOut: false });
            await new Promise<void>((resolve) => opts.signal.addEventListener('abort', () => resolve(), { once: true }));
          },
        };
      },
    };
    const log = new EventLog(100);
    const w = new JournalWatcher({ journal, unit: 'kubelet.service', log, clock: systemClock, logger: silentLogger(), minBackoffMs: 10, maxBackoffMs: 20 });
    w.start();
    await waitFor('three follows', async () => (calls.length >= 3 ? true : undefined), { timeoutMs: 5_000 });
    await w.stop();
    expect(calls).toEqual([undefined, 'c3', 'c70']);
    const kinds = log.since(0).map((e) => e.kind);
    expect(kinds).toEqual(['KUBELET_KILLING_UNWANTED_POD', 'JOURNAL_UNAVAILABLE', 'KUBELET_APISERVER_CONNECTION_ERRORS', 'KUBELET_CONTAINER_DEFINITION_CHANGED', 'JOURNAL_UNAVAILABLE']);
    expect(log.since(0).find((e) => e.kind === 'KUBELET_APISERVER_CONNECTION_ERRORS')).toMatchObject({ restarts: 2, observedAtMs: T0 + 60_000 });
    expect(w.followRestarts).toBeGreaterThanOrEqual(2);
  });
});
