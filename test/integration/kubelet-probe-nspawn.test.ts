/**
 * The node watcher's kubelet probe (agent/watch/kubelet-probe.ts) against a real systemd: the
 * agent runs as a unit in an nspawn node beside the stand-in kubelet.service, and the test follows
 * its Watch stream while systemd restarts, kills, stops and starts the kubelet. The probe reads
 * /proc/<MainPID>/stat each poll and asks systemd only every 10 s (or when that process is gone),
 * so every case checks that KUBELET_STOPPED / KUBELET_STARTED still follow systemd: the pids in the
 * events are systemd's MainPIDs, and GetNode's unit state is systemd's. A kubelet that is stopping
 * but still alive (systemd "deactivating": its stop signal ignored until TimeoutStopSec) is the case
 * only systemd knows: its "Stopping" message in the unit's journal makes the probe ask systemd at
 * the next poll, so it is seen with the confirm period set far beyond the test (CONFIRM_MS), while
 * the process still lives. Latencies (systemctl returned -> event on the stream) are printed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WatchEvent__Output } from '../../proto/kip/generated/kip/v1/WatchEvent.ts';
import { bootAgentNode, buildAgentBundle, SKIP_FILE, type AgentNode } from '../../scripts/nspawn/agent-node.ts';

/** kubeletConfirmMs for the agent: 10 minutes, longer than the whole test. */
const CONFIRM_MS = 600_000;
let an: AgentNode | undefined;
let bundleDir = '';
const h = (): AgentNode => {
  if (!an) throw new Error('node not booted');
  return an;
};

/** Every event the stream delivered, with the host's monotonic arrival time. */
const seen: { ev: WatchEvent__Output; atMs: number }[] = [];
const streamAbort = new AbortController();
let stream: Promise<void> | undefined;

beforeAll(async () => {
  bundleDir = await mkdtemp(path.join(tmpdir(), 'kip-kprobe-bundle-'));
  const bundle = await buildAgentBundle(bundleDir);
  // The confirm period far beyond the test: a stop whose process lives on must be seen through
  // systemd's journal message about the unit (agent/watch/journal-watcher.ts onUnitMessage).
  an = await bootAgentNode({ name: `kip-kprobe-it-${process.pid}`, kubeletVersion: 'v1.10.13', logLevel: 'info', agentBundle: bundle, extraConfig: [`kubeletConfirmMs: ${CONFIRM_MS}`] });
  const client = an.client;
  stream = (async () => {
    for await (const ev of client.watch(0, streamAbort.signal)) seen.push({ ev, atMs: performance.now() });
  })();
}, 10 * 60_000);

afterAll(async () => {
  streamAbort.abort();
  await stream?.catch(() => undefined);
  await an?.stop();
  if (bundleDir) await rm(bundleDir, { recursive: true, force: true });
}, 120_000);

const kubeletKinds = new Set(['KUBELET_STARTED', 'KUBELET_STOPPED']);

/** The next kubelet event of `kind` that arrived after index `from` of `seen`; waits for it. */
async function nextKubeletEvent(kind: 'KUBELET_STARTED' | 'KUBELET_STOPPED', from: number, timeoutMs: number): Promise<{ ev: WatchEvent__Output; atMs: number; index: number }> {
  return h().waitFor(`${kind} on the Watch stream`, async () => {
    for (let i = from; i < seen.length; i++) {
      const s = seen[i];
      if (s && s.ev.kind === kind) return { ...s, index: i + 1 };
    }
    return undefined;
  }, timeoutMs);
}

const unitState = async () => {
  const props = new Map((await h().sh('systemctl show -p ActiveState -p MainPID kubelet.service')).trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const));
  return { active: props.get('ActiveState') ?? '', mainPid: Number(props.get('MainPID')) };
};

const kubeletEventsAfter = (from: number) => seen.slice(from).filter((s) => kubeletKinds.has(String(s.ev.kind))).map((s) => `${s.ev.kind} ${s.ev.detail}`);

describe('the kubelet probe follows systemd (real systemd in nspawn)', () => {
  it('restart, SIGKILL (Restart=always), stop while still alive, start: events and GetNode follow systemd', async () => {
    const n = h();
    const pid0 = (await unitState()).mainPid;
    expect(pid0).toBeGreaterThan(0);
    // GetNode reads systemd itself: the same MainPID.
    await n.waitFor('GetNode to show the kubelet active', async () => ((await n.client.getNode()).unit?.mainPid === pid0 ? true : undefined), 30_000);
    // The watcher's baseline is its first poll: a restart before it would be no event. A skip file
    // written now is reported by a later poll than the first (SKIP_FILE_WRITTEN), and each poll reads
    // the kubelet before the skip file: once the event is here, the kubelet has a baseline.
    await n.sh(`printf 'v1.10.13,1574812800' > ${SKIP_FILE}`);
    const skipSeen = await n.waitFor('SKIP_FILE_WRITTEN (the watcher past its baseline poll)', async () => {
      const i = seen.findIndex((s) => s.ev.kind === 'SKIP_FILE_WRITTEN');
      return i >= 0 ? i + 1 : undefined;
    }, 60_000);
    expect(kubeletEventsAfter(0)).toEqual([]);
    let mark = skipSeen;

    // 1. systemctl restart: a new MainPID; the old process is gone from /proc, so systemd is asked at once.
    let t0 = performance.now();
    await n.sh('systemctl restart kubelet.service');
    const restarted = await unitState();
    expect(restarted).toMatchObject({ active: 'active' });
    expect(restarted.mainPid).not.toBe(pid0);
    const stopped1 = await nextKubeletEvent('KUBELET_STOPPED', mark, 30_000);
    const started1 = await nextKubeletEvent('KUBELET_STARTED', mark, 30_000);
    expect(stopped1.ev.detail).toBe(`pid ${pid0}`);
    expect(started1.ev.detail).toBe(`pid ${restarted.mainPid}`);
    process.stdout.write(`kubelet probe, systemctl restart: KUBELET_STOPPED ${Math.round(stopped1.atMs - t0)} ms, KUBELET_STARTED ${Math.round(started1.atMs - t0)} ms after systemctl was called\n`);

    // 2. SIGKILL: systemd restarts it (Restart=always, RestartSec=1): stopped (old pid), started (systemd's new one).
    mark = Math.max(stopped1.index, started1.index);
    t0 = performance.now();
    await n.sh('systemctl kill -s KILL kubelet.service');
    const stopped2 = await nextKubeletEvent('KUBELET_STOPPED', mark, 30_000);
    const started2 = await nextKubeletEvent('KUBELET_STARTED', mark, 60_000);
    const afterKill = await unitState();
    expect(afterKill.active).toBe('active');
    expect(stopped2.ev.detail).toBe(`pid ${restarted.mainPid}`);
    expect(started2.ev.detail).toBe(`pid ${afterKill.mainPid}`);
    expect(afterKill.mainPid).not.toBe(restarted.mainPid);
    process.stdout.write(`kubelet probe, SIGKILL + Restart=always: KUBELET_STOPPED ${Math.round(stopped2.atMs - t0)} ms, KUBELET_STARTED ${Math.round(started2.atMs - t0)} ms after the kill\n`);

    // 3. Stopping but still alive: the stop signal is one the stand-in ignores (SIGWINCH), so the
    // process lives on until TimeoutStopSec while systemd says "deactivating". Only systemd knows:
    // its "Stopping" message in the unit's journal makes the probe ask it at the next poll (the
    // confirm period, CONFIRM_MS, is far beyond this test).
    await n.sh("mkdir -p /etc/systemd/system/kubelet.service.d && printf '[Service]\\nKillSignal=SIGWINCH\\nTimeoutStopSec=90s\\n' > /etc/systemd/system/kubelet.service.d/slow-stop.conf && systemctl daemon-reload");
    mark = Math.max(stopped2.index, started2.index);
    const alivePid = afterKill.mainPid;
    t0 = performance.now();
    await n.sh('systemctl stop --no-block kubelet.service');
    await n.waitFor('systemd to say deactivating', async () => ((await unitState()).active === 'deactivating' ? true : undefined), 30_000);
    const stopped3 = await nextKubeletEvent('KUBELET_STOPPED', mark, 60_000);
    const latency3 = stopped3.atMs - t0;
    process.stdout.write(`kubelet probe, stopping but alive (deactivating): KUBELET_STOPPED ${Math.round(latency3)} ms after systemctl stop (journal hint, probe confirm period ${CONFIRM_MS / 1000} s, poll 1 s)\n`);
    expect(stopped3.ev.detail).toBe(`pid ${alivePid}`);
    // Seen while the process still lives: the event came from systemd's answer, not from the exit.
    expect((await n.shMaybe(`test -d /proc/${alivePid}`)).code).toBe(0);
    expect((await unitState()).active).toBe('deactivating');
    // Far within the confirm period: journal, a poll, and margin for a loaded machine (nspawn exec round trips).
    expect(latency3).toBeLessThan(20_000);
    await n.waitFor('GetNode to show the kubelet deactivating', async () => ((await n.client.getNode()).unit?.activeState === 'deactivating' ? true : undefined), 30_000);

    // 4. The stop finishes (SIGKILL now instead of at TimeoutStopSec): down, no second STOPPED; then start.
    await n.sh('systemctl kill -s KILL kubelet.service');
    // A stop ended by SIGKILL is a failure to systemd ("Failed with result 'signal'").
    await n.waitFor('systemd to say the kubelet is down', async () => (['inactive', 'failed'].includes((await unitState()).active) ? true : undefined), 30_000);
    await n.sh("rm /etc/systemd/system/kubelet.service.d/slow-stop.conf && systemctl daemon-reload");
    mark = stopped3.index;
    t0 = performance.now();
    await n.sh('systemctl start kubelet.service');
    const started4 = await nextKubeletEvent('KUBELET_STARTED', mark, 30_000);
    const final = await unitState();
    expect(final.active).toBe('active');
    expect(started4.ev.detail).toBe(`pid ${final.mainPid}`);
    process.stdout.write(`kubelet probe, systemctl start: KUBELET_STARTED ${Math.round(started4.atMs - t0)} ms after systemctl was called\n`);
    await n.waitFor('GetNode to show systemd\'s new MainPID', async () => ((await n.client.getNode()).unit?.mainPid === final.mainPid ? true : undefined), 30_000);
    // Between the stop of case 3 and this start, exactly one STARTED and no other STOPPED.
    expect(kubeletEventsAfter(stopped3.index - 1)).toEqual([`KUBELET_STOPPED pid ${alivePid}`, `KUBELET_STARTED pid ${final.mainPid}`]);
  }, 8 * 60_000);
});
