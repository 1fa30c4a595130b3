/**
 * kip-agent INSIDE a real systemd node (systemd-nspawn, scripts/nspawn), run as a unit, with a
 * stand-in kubelet (a python script: `--version`, /healthz, journal lines) as kubelet.service.
 * Driven over gRPC + mutual TLS from the test: a real upgrade v1.10.13 -> v1.11.10, Rollback,
 * automatic rollback of a crashing kubelet, and kill -9 of the agent at several steps. The node,
 * units, PKI and client come from test/harness/agent-node.ts (shared with `npm run bench -- agent`).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NspawnNode } from '../../scripts/nspawn/index.ts';
import type { AgentConnection, RunState, StepEvent } from '../../coordinator/fleet/client.ts';
import { bootAgentNode, sha256, standInKubelet as standIn, type AgentNode, type NodeFacts } from '../../scripts/nspawn/agent-node.ts';
import { FORWARD_STEPS } from '../../agent/upgrade/types.ts';

const OLD = 'v1.10.13';
const NEW = 'v1.11.10';

let an: AgentNode | undefined;
let client: AgentConnection;
let healthzPort = 0;
const oldBin = standIn(OLD);
const newBin = standIn(NEW);
const timings: Record<string, number> = {};

function h(): AgentNode {
  if (!an) throw new Error('node not booted');
  return an;
}

function n(): NspawnNode {
  return h().node;
}

async function sh(cmd: string, timeoutMs = 60_000): Promise<string> {
  return h().sh(cmd, timeoutMs);
}

async function shMaybe(cmd: string): Promise<{ code: number | undefined; out: string }> {
  return h().shMaybe(cmd);
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  return h().waitFor(what, fn, timeoutMs);
}

async function setFault(spec: string): Promise<void> {
  await h().setFault(spec);
}

async function collect(it: AsyncIterable<StepEvent>): Promise<{ events: StepEvent[]; error: unknown }> {
  const events: StepEvent[] = [];
  try {
    for await (const e of it) events.push(e);
    return { events, error: undefined };
  } catch (error) {
    return { events, error };
  }
}

async function waitTerminal(runId: string): Promise<RunState> {
  return waitFor(
    `run ${runId} to finish`,
    async () => {
      const r = await client.getRun(runId);
      return ['RUN_SUCCEEDED', 'RUN_ROLLED_BACK', 'RUN_FAILED'].includes(r.phase) ? r : undefined;
    },
    120_000,
  );
}

/** What is on the node right now, read from inside it. */
async function nodeFacts(): Promise<NodeFacts> {
  return h().facts();
}

/** Every backed-up copy still matches its manifest checksum. */
async function assertBackupsConsistent(runId: string): Promise<void> {
  const dir = path.join(n().root, 'var/lib/kip-agent/backups', runId);
  const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as { entries: { path: string; present: boolean; copy?: string; sha256?: string }[] };
  expect(manifest.entries.find((e) => e.path === '/usr/bin/kubelet')?.sha256).toBe(sha256(oldBin));
  for (const e of manifest.entries) {
    if (!e.present) continue;
    expect(sha256(await readFile(path.join(dir, 'files', e.copy ?? 'missing'))), e.path).toBe(e.sha256);
  }
}

beforeAll(async () => {
  an = await bootAgentNode({ name: `kip-agent-it-${process.pid}`, kubeletVersion: OLD, stableMs: 1500, pollMs: 50, verifyTimeoutMs: 30_000, logLevel: 'debug' });
  ({ client, healthzPort } = an);
  expect(sha256(an.oldBinary)).toBe(sha256(oldBin));
  const staged = await client.stageBinary({ version: NEW, sha256: sha256(newBin), size: newBin.length }, newBin);
  expect(staged.binary?.patched).toBe(true);
}, 10 * 60_000);

afterAll(async () => {
  await an?.stop();
  if (Object.keys(timings).length) console.log(`[agent-nspawn] ${JSON.stringify(timings)}`);
}, 120_000);

describe('kip-agent in a real systemd node', () => {
  it('upgrades the kubelet v1.10.13 -> v1.11.10 in place, then rolls back on request', async () => {
    const before = await client.getNode();
    expect(before).toMatchObject({ kubeletVersion: OLD, kubeletPatched: true, unit: { activeState: 'active', privateTmp: false }, skipFile: { present: false } });
    const oldStartSec = Math.floor((before.unit?.startedAtUnixMs ?? 0) / 1000);
    const started = performance.now();
    const { events, error } = await collect(client.upgrade({ runId: 'up-1', targetVersion: NEW }));
    timings.upgradeMs = Math.round(performance.now() - started);
    expect(error).toBeUndefined();
    expect(events.at(-1)).toMatchObject({ step: 'DONE', phase: 'RUN_SUCCEEDED' });
    // The flag planner checked the flags against the staged binary's --help (no "skipped" note).
    expect(events.find((e) => e.step === 'MIGRATE_FLAGS' && e.status === 'STEP_DONE')?.message).toMatch(/^0 file\(s\) migrated \(0 written now\)$/);
    const at = (step: string, status: string) => events.find((e) => e.step === step && e.status === status)?.atUnixMs ?? 0;
    timings.stopToStartedMs = at('START_KUBELET', 'STEP_DONE') - at('STOP_KUBELET', 'STEP_STARTED');
    // Downtime: stop -> first healthy answer of the new kubelet, against the stand-in's own restart.
    const verifyDone = events.find((e) => e.step === 'VERIFY' && e.status === 'STEP_DONE');
    const firstHealthy = Number(verifyDone?.firstHealthyAtUnixMs ?? 0);
    timings.downtimeMs = firstHealthy - at('STOP_KUBELET', 'STEP_STARTED');
    // The agent's own downtime field says the same, and names the PID it verified.
    expect(Number(verifyDone?.downtimeMs)).toBe(timings.downtimeMs);
    expect(verifyDone?.mainPid).toBeGreaterThan(0);
    expect(timings.downtimeMs).toBeGreaterThan(0);
    const own = await sh(
      `python3 -c 'import subprocess,time,urllib.request\nt=time.time()\nsubprocess.run(["systemctl","restart","kubelet.service"],check=True)\nwhile True:\n  try:\n    urllib.request.urlopen("http://127.0.0.1:${healthzPort}/healthz",timeout=1).read();break\n  except Exception:\n    time.sleep(0.01)\nprint(int((time.time()-t)*1000))'`,
    );
    timings.standInRestartMs = Number(own.trim());
    timings.agentOverheadMs = timings.downtimeMs - timings.standInRestartMs;
    const agentPid = (await sh('systemctl show -p MainPID --value kip-agent.service')).trim();
    timings.agentRssMiB = Math.round(Number((await sh(`ps -o rss= -p ${agentPid}`)).trim()) / 102.4) / 10;
    // The new kubelet's /proc/<pid>/root showed the very skip file the agent wrote.
    expect(verifyDone?.message).toMatch(/the kubelet sees the skip file \(v1\.10\.13,\d+\)/);
    const after = await client.getNode();
    expect(after).toMatchObject({ kubeletVersion: NEW, kubeletSha256: sha256(newBin), unit: { activeState: 'active' }, skipFile: { present: true, valid: true, version: OLD } });
    expect(after.unit?.mainPid).not.toBe(before.unit?.mainPid);
    const facts = await nodeFacts();
    expect(facts).toMatchObject({ binSha: sha256(newBin), skip: `${OLD},${oldStartSec}`, active: 'active', health: 'ok', temps: '' });
    await assertBackupsConsistent('up-1');

    const rolled = await client.rollback('up-1');
    expect(rolled.phase).toBe('RUN_ROLLED_BACK');
    // The old kubelet gets a skip file naming the version rolled back from (issue 8, defect 3).
    const restore = rolled.events.find((e) => e.step === 'ROLLBACK_RESTORE' && e.status === 'STEP_DONE');
    expect(restore?.skipFileWritten).toMatch(/^v1\.11\.10,\d+$/);
    expect(await nodeFacts()).toMatchObject({ binSha: sha256(oldBin), skip: restore?.skipFileWritten, active: 'active', health: 'ok', temps: '' });
    expect((await client.getNode()).kubeletVersion).toBe(OLD);
  }, 180_000);

  it('rolls back a new kubelet that crash-loops, with the reason and its journal lines', async () => {
    const bad = standIn('v1.11.9', { crash: true });
    const skipBefore = (await nodeFacts()).skip;
    await client.stageBinary({ version: 'v1.11.9', sha256: sha256(bad), size: bad.length }, bad);
    const { events, error } = await collect(client.upgrade({ runId: 'crashloop', targetVersion: 'v1.11.9', verifyTimeoutMs: 6_000 }));
    expect(error).toBeUndefined();
    const failed = events.find((e) => e.status === 'STEP_FAILED');
    expect(failed).toMatchObject({ step: 'VERIFY', errorCode: 'VERIFY_FAILED' });
    expect(failed?.journalTail.join('\n')).toContain('failed to run Kubelet: crash requested');
    expect(events.at(-1)).toMatchObject({ step: 'ROLLED_BACK', phase: 'RUN_ROLLED_BACK' });
    expect(await nodeFacts()).toMatchObject({ binSha: sha256(oldBin), active: 'active', health: 'ok' });
    // The previous case's rollback left a file naming v1.11.10, another version than the old
    // kubelet's: it is put back as it was (the old kubelet skips the same containers, and the
    // file keeps naming the oldest hashes). Without such a file it names the version rolled back
    // from (the case before this one).
    expect(skipBefore).toMatch(/^v1\.11\.10,\d+$/);
    expect((await nodeFacts()).skip).toBe(skipBefore);
  }, 180_000);

  it('refuses a kubelet unit whose mount options hide the skip file, as real systemd reports them (issue 8, defect 6)', async () => {
    const dropIn = '/etc/systemd/system/kubelet.service.d/50-kip-hide.conf';
    const cases: [string, RegExp][] = [
      ['TemporaryFileSystem=/tmp:ro', /TemporaryFileSystem=\/tmp mounts an empty tmpfs over \/tmp/],
      ['BindPaths=-/var/lib/kubelet-tmp:/tmp', /BindPaths= mounts \/var\/lib\/kubelet-tmp over \/tmp/],
      ['InaccessiblePaths=-/tmp', /InaccessiblePaths=\/tmp hides \/tmp/],
      ['RootDirectory=/srv/kubelet-root', /RootDirectory=\/srv\/kubelet-root/],
    ];
    try {
      for (const [line, want] of cases) {
        await sh(`mkdir -p /etc/systemd/system/kubelet.service.d && printf '[Service]\\n${line}\\n' > ${dropIn} && systemctl daemon-reload`);
        const report = await client.preflight({ targetVersion: NEW });
        const check = report.checks.find((c) => c.name === 'skip-file-visible');
        expect(check, line).toMatchObject({ status: 'CHECK_FAIL' });
        expect(check?.message, line).toMatch(/^SKIP_FILE_HIDDEN: /);
        expect(check?.message, line).toMatch(want);
      }
    } finally {
      await sh(`rm -f ${dropIn} && systemctl daemon-reload`);
    }
    const report = await client.preflight({ targetVersion: NEW });
    expect(report.checks.find((c) => c.name === 'skip-file-visible')).toMatchObject({ status: 'CHECK_OK' });
    expect(report.ok).toBe(true);
  }, 120_000);

  // Every step of the state machine, killed both before it acts and after it acted but before
  // its completion was journaled.
  const crashPoints = FORWARD_STEPS.flatMap((step) => [`${step}:before`, `${step}:after`]);
  it.each(crashPoints)('kill -9 of the agent at %s: systemd restarts it and the run completes consistently', async (point) => {
    const runId = `crash-${point.replace(':', '-').toLowerCase().replace(/_/g, '-')}`;
    // A skip file left by the previous case's rollback (it names the version rolled back from)
    // is kept when it names another version than the target; otherwise the run writes its own.
    const skipBefore = (await nodeFacts()).skip;
    await setFault(point);
    const agentPid = (await sh('systemctl show -p MainPID --value kip-agent.service')).trim();
    // The stream breaks when the agent dies; upgradeFollow re-attaches with the same run id once
    // systemd has restarted the agent, and gets each event once.
    const { events, error } = await collect(client.upgradeFollow({ runId, targetVersion: NEW }, { reattachForMs: 60_000, pauseMs: 300 }));
    expect(error).toBeUndefined();
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.at(-1)).toMatchObject({ step: 'DONE', phase: 'RUN_SUCCEEDED' });
    const run = await waitTerminal(runId);
    expect(run.phase).toBe('RUN_SUCCEEDED');
    // The interrupted step shows up twice as started (before and after the crash), no step twice as done.
    const [step] = point.split(':');
    expect(run.events.filter((e) => e.step === step && e.status === 'STEP_STARTED').length).toBe(2);
    const done = run.events.filter((e) => e.status === 'STEP_DONE').map((e) => e.step);
    expect(new Set(done).size).toBe(done.length);
    const newPid = (await sh('systemctl show -p MainPID --value kip-agent.service')).trim();
    expect(newPid).not.toBe(agentPid);
    expect(await shMaybe(`test -e /var/lib/kip-agent/faults-fired/${point.replace(':', '-')}`)).toMatchObject({ code: 0 });
    // A working kubelet of the new version, a whole binary, the skip file, consistent backups.
    const facts = await nodeFacts();
    expect(facts).toMatchObject({ binSha: sha256(newBin), active: 'active', health: 'ok', temps: '' });
    if (skipBefore !== undefined && !skipBefore.startsWith(`${NEW},`)) expect(facts.skip).toBe(skipBefore);
    else expect(facts.skip).toMatch(/^v1\.10\.13,\d+$/);
    expect((await client.getNode()).kubeletVersion).toBe(NEW);
    await assertBackupsConsistent(runId);
    // Back to the old version for the next case, without faults.
    await setFault('');
    expect((await client.rollback(runId)).phase).toBe('RUN_ROLLED_BACK');
    expect(await nodeFacts()).toMatchObject({ binSha: sha256(oldBin), active: 'active', health: 'ok' });
    expect((await nodeFacts()).skip).toMatch(/^v1\.11\.10,\d+$/);
  }, 240_000);

  it('stops gracefully on SIGTERM from systemd', async () => {
    const r = await n().exec('systemctl', ['stop', 'kip-agent.service'], { timeoutMs: 60_000 });
    expect(r.exitCode).toBe(0);
    const props = await sh('systemctl show -p Result,ExecMainStatus,ActiveState kip-agent.service');
    expect(props).toContain('Result=success');
    expect(props).toContain('ExecMainStatus=0');
    expect(props).toContain('ActiveState=inactive');
    expect(await sh('journalctl -u kip-agent.service -o cat --no-pager -n 20')).toContain('"msg":"stopped"');
  }, 60_000);
});
