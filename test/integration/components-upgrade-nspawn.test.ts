/**
 * kip-agent upgrades kube-apiserver, kube-controller-manager, kube-scheduler and kube-proxy
 * stand-ins (scripts/nspawn/stand-ins.ts) run as systemd units in a real systemd node
 * (systemd-nspawn), through the same state machine as the kubelet: a crash-looping new
 * apiserver is rolled back automatically; a wrong-component binary is refused; and each
 * component's run survives kill -9 of the agent before and after every one of its eight steps
 * (the full matrix: sixteen kills in each of the four runs, each point once per component), then
 * ends healthy on the new version with every step done once in the journal. The agent runs from
 * its esbuild bundle (scripts/lab/programs.ts) with RestartSec=100ms, so a kill costs about a
 * second of restart instead of about 13 s through tsx, which is what makes 64 kills affordable.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORWARD_STEPS } from '../../agent/upgrade/types.ts';
import type { AgentConnection, StepEvent } from '../../coordinator/fleet/client.ts';
import { AgentCallError } from '../../coordinator/fleet/errors.ts';
import { bootAgentNode, buildAgentBundle, freePort, sha256, type AgentNode } from '../../scripts/nspawn/agent-node.ts';
import { STAND_IN_NAMES, standInBinary, standInComponent, standInHealthPath, standInUnit, type StandInName } from '../../scripts/nspawn/stand-ins.ts';

const OLD = 'v1.15.3';
const NEW = 'v1.16.2';
const NAMES = STAND_IN_NAMES;

let an: AgentNode | undefined;
let client: AgentConnection;
const ports = new Map<StandInName, number>();
const timings: Record<string, number> = {};

function h(): AgentNode {
  if (!an) throw new Error('node not booted');
  return an;
}

const bin = standInBinary;

async function health(name: StandInName): Promise<string> {
  return (await h().shMaybe(`python3 -c 'import urllib.request;print(urllib.request.urlopen("http://127.0.0.1:${ports.get(name)}${standInHealthPath(name)}",timeout=3).read().decode())'`)).out.trim();
}

async function binSha(name: StandInName): Promise<string> {
  return sha256(await readFile(path.join(h().node.root, bin(name))));
}

async function stage(name: StandInName, version: string, data: Buffer) {
  // The component field is read by the agent from the metadata message as is.
  const meta = { version, sha256: sha256(data), size: data.length, component: name };
  return client.stageBinary(meta, data);
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

const codeOf = async (p: Promise<unknown>): Promise<string | undefined> => {
  const e = await p.then(() => undefined, (err: unknown) => err);
  return e instanceof AgentCallError ? e.code : String(e);
};

let bundleDir = '';

beforeAll(async () => {
  const { mkdtemp } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  bundleDir = await mkdtemp(path.join(tmpdir(), 'kip-cup-bundle-'));
  const bundle = await buildAgentBundle(bundleDir);
  an = await bootAgentNode({
    name: `kip-cup-it-${process.pid}`, kubeletVersion: OLD, stableMs: 600, pollMs: 50, verifyTimeoutMs: 30_000, logLevel: 'info',
    agentBundle: bundle,
    // A killed agent is back after 100 ms plus its own start, not after systemd's default second.
    agentServiceExtra: ['RestartSec=100ms'],
  });
  client = an.client;
  const root = an.node.root;
  const { mkdir, writeFile } = await import('node:fs/promises');
  const put = async (p: string, data: string | Buffer, mode = 0o644) => {
    await mkdir(path.dirname(path.join(root, p)), { recursive: true });
    await writeFile(path.join(root, p), data, { mode });
  };
  for (const name of NAMES) {
    const port = await freePort();
    ports.set(name, port);
    await put(bin(name), standInComponent(name, OLD), 0o755);
    await put(`/etc/systemd/system/${name}.service`, standInUnit(name, port));
  }
  // Sixteen kills in one run: no start rate limit on the agent (systemd's default is 5 in 10 s).
  await put('/etc/systemd/system/kip-agent.service.d/no-start-limit.conf', '[Unit]\nStartLimitIntervalSec=0\n');
  await an.sh(`systemctl daemon-reload && systemctl start ${NAMES.map((n) => `${n}.service`).join(' ')}`);
  for (const name of NAMES) await an.waitFor(`${name} healthy`, async () => ((await health(name)) === 'ok' ? true : undefined), 30_000);
}, 10 * 60_000);

afterAll(async () => {
  await an?.stop();
  if (bundleDir) await (await import('node:fs/promises')).rm(bundleDir, { recursive: true, force: true });
  if (Object.keys(timings).length) console.log(`[components-upgrade-nspawn] ${JSON.stringify(timings)}`);
}, 120_000);

describe('kip-agent upgrades the control plane and kube-proxy under a real systemd', () => {
  it('GetNode reports the four stand-ins with their versions', async () => {
    const n = await client.getNode();
    for (const name of NAMES) expect(n.components.find((c) => c.name === name), name).toMatchObject({ runtime: 'systemd', version: OLD, binary: bin(name) });
  }, 60_000);

  it('refuses a kube-proxy binary staged as kube-apiserver, an unknown component, and a run of it', async () => {
    expect(await codeOf(stage('kube-apiserver', NEW, standInComponent('kube-proxy', NEW)))).toBe('STAGE_WRONG_COMPONENT');
    expect((await client.getNode()).staged).toEqual([]);
    expect(await codeOf(collect(client.upgrade({ runId: 'bad-1', targetVersion: NEW, component: 'kube-etcd' })).then((r) => { if (r.error) throw r.error; }))).toBe('COMPONENT_UNKNOWN');
    expect(await codeOf(client.preflight({ targetVersion: NEW, component: 'kube-apiserver' }).then((r) => { if (!r.ok) throw new Error(r.checks.filter((c) => c.status === 'CHECK_FAIL').map((c) => c.message).join('; ')); }))).toMatch(/NOT_STAGED/);
    expect(await health('kube-apiserver')).toBe('ok');
  }, 60_000);

  it('rolls back a crash-looping new kube-apiserver automatically, with its journal lines', async () => {
    const bad = standInComponent('kube-apiserver', 'v1.16.1', { crash: true });
    await stage('kube-apiserver', 'v1.16.1', bad);
    const before = await binSha('kube-apiserver');
    const { events, error } = await collect(client.upgrade({ runId: 'api-crash', targetVersion: 'v1.16.1', component: 'kube-apiserver', verifyTimeoutMs: 6_000 }));
    expect(error).toBeUndefined();
    const failed = events.find((e) => e.status === 'STEP_FAILED');
    expect(failed).toMatchObject({ step: 'VERIFY', errorCode: 'VERIFY_FAILED' });
    expect(failed?.journalTail.join('\n')).toContain('stand-in kube-apiserver v1.16.1: crash requested');
    expect(events.at(-1)).toMatchObject({ step: 'ROLLED_BACK', phase: 'RUN_ROLLED_BACK' });
    expect(await binSha('kube-apiserver')).toBe(before);
    expect(await h().sh('systemctl is-active kube-apiserver.service')).toBe('active\n');
    expect(await health('kube-apiserver')).toBe('ok');
  }, 120_000);

  const allPoints = FORWARD_STEPS.flatMap((s) => [`${s}:before`, `${s}:after`]);
  it('the agent in the node runs from its bundle, not through tsx', async () => {
    const pid = await h().mainPid('kip-agent.service');
    const cmdline = (await h().sh(`tr '\\0' ' ' < /proc/${pid}/cmdline`)).trim();
    expect(cmdline).toMatch(/ \/usr\/local\/lib\/kip-agent\/kip-agent\.mjs --config \/etc\/kip\/agent\.yaml$/);
    expect(cmdline).not.toContain('tsx');
  }, 60_000);
  let faultsSet = false;
  it.each(NAMES)('%s v1.15.3 -> v1.16.2 with kill -9 of the agent before and after each of the eight steps', async (name) => {
    const newBin = standInComponent(name, NEW);
    await stage(name, NEW, newBin);
    const points = allPoints;
    // The fault points are set once (one agent restart); each run starts with no point fired yet
    // (the agent looks for the markers at each point, so removing them needs no restart).
    if (!faultsSet) {
      await h().setFault(points.join(','));
      faultsSet = true;
    }
    await h().sh('rm -rf /var/lib/kip-agent/faults-fired');
    const agentPid = await h().mainPid('kip-agent.service');
    const started = performance.now();
    const runId = `kill-${name}`;
    const { events, error } = await collect(client.upgradeFollow({ runId, targetVersion: NEW, component: name }, { reattachForMs: 300_000, pauseMs: 300 }));
    timings[`${name}Ms`] = Math.round(performance.now() - started);
    timings[`${name}PerKillMs`] = Math.round((performance.now() - started) / points.length);
    if (error) console.log(`[components-upgrade-nspawn] ${name}: ${String(error)}\n${(await h().shMaybe('journalctl -u kip-agent.service --no-pager -n 60 -o cat; systemctl status kip-agent.service --no-pager')).out}`);
    expect(error).toBeUndefined();
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.at(-1)).toMatchObject({ step: 'DONE', phase: 'RUN_SUCCEEDED' });
    const run = await client.getRun(runId);
    expect(run).toMatchObject({ phase: 'RUN_SUCCEEDED', component: name });
    for (const step of FORWARD_STEPS) {
      // Each kill of a step (before it acted, or after it acted but before its completion was
      // journaled) makes the restarted agent start it once more; it is done once.
      const kills = points.filter((p) => p.startsWith(`${step}:`)).length;
      expect(run.events.filter((e) => e.step === step && e.status === 'STEP_STARTED').length, step).toBe(1 + kills);
      expect(run.events.filter((e) => e.step === step && e.status === 'STEP_DONE').length, step).toBe(1);
    }
    expect((await h().sh('ls /var/lib/kip-agent/faults-fired')).trim().split('\n').sort()).toEqual(points.map((p) => p.replace(':', '-')).sort());
    expect(await h().mainPid('kip-agent.service')).not.toBe(agentPid);
    expect(await binSha(name)).toBe(sha256(newBin));
    expect((await h().sh(`ls -a ${path.dirname(bin(name))} | grep kip-tmp || true`)).trim()).toBe('');
    expect(await h().sh(`systemctl is-active ${name}.service`)).toBe('active\n');
    expect(await health(name)).toBe('ok');
    const info = (await client.getNode()).components.find((c) => c.name === name);
    expect(info?.version).toBe(NEW);
    if (name === 'kube-proxy') {
      // The 1.16 stand-in refuses --resource-container, so it runs only because the flag was migrated.
      const dropIn = await h().sh('cat /etc/systemd/system/kube-proxy.service.d/95-kip-flags.conf');
      const execStart = dropIn.split('\n').filter((l) => l.startsWith('ExecStart='));
      expect(execStart).toEqual(['ExecStart=', `ExecStart="/usr/local/bin/kube-proxy" "--healthz-bind-address=127.0.0.1:${ports.get('kube-proxy')}" "--v=2"`]);
      expect(dropIn).toContain('#78294');
    }
  }, 900_000);
});
