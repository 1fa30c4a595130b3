/**
 * The packaged kip-agent (scripts/package: esbuild bundle inside a Node single-executable) run by
 * scripts/systemd/kip-agent.service in a real systemd node that has NO Node.js and no checkout:
 * notify readiness (active only after READY, with a STATUS= line), the watchdog restarting a
 * stalled (SIGSTOPped) agent, pino's fields in the journal, and a real kubelet swap under the
 * unit's hardening (ProtectSystem=strict + ReadWritePaths).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageProgram, PROGRAMS } from '../../scripts/package/build.ts';
import { bootAgentNode, sha256, standInKubelet, type AgentNode } from '../../scripts/nspawn/agent-node.ts';

const OLD = 'v1.10.13';
const NEW = 'v1.11.10';
let an: AgentNode | undefined;
let buildDir = '';

function h(): AgentNode {
  if (!an) throw new Error('node not booted');
  return an;
}

interface JournalRecord {
  readonly MESSAGE?: string;
  readonly _PID?: string;
  readonly __REALTIME_TIMESTAMP?: string;
  readonly SYSLOG_IDENTIFIER?: string;
}

async function journal(args = ''): Promise<JournalRecord[]> {
  const out = await h().sh(`journalctl -u kip-agent.service -o json --no-pager ${args}`);
  return out.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as JournalRecord);
}

function pinoLines(records: readonly JournalRecord[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const r of records) {
    if (r.SYSLOG_IDENTIFIER !== 'kip-agent' || !r.MESSAGE?.startsWith('{')) continue;
    out.push({ ...(JSON.parse(r.MESSAGE) as Record<string, unknown>), __ts: Number(r.__REALTIME_TIMESTAMP) });
  }
  return out;
}

beforeAll(async () => {
  buildDir = await mkdtemp(path.join(tmpdir(), 'kip-artifact-'));
  const agent = PROGRAMS.find((p) => p.name === 'kip-agent-linux-x64');
  if (!agent) throw new Error('no agent program');
  const exe = path.join(buildDir, 'kip-agent');
  await packageProgram(agent, exe, buildDir);
  an = await bootAgentNode({ name: 'kip-artifact-it', kubeletVersion: OLD, artifact: exe, agentServiceExtra: ['WatchdogSec=3s'], logLevel: 'info' });
}, 400_000);

afterAll(async () => {
  try {
    await an?.stop();
  } finally {
    if (buildDir) await rm(buildDir, { recursive: true, force: true });
  }
}, 120_000);

describe('packaged kip-agent under its systemd unit', () => {
  it('runs on a node without Node.js', async () => {
    const r = await h().shMaybe('command -v node nodejs; ls /usr/bin/node /usr/local/bin/node 2>&1; true');
    expect(r.out).not.toMatch(/^\/.*node$/m);
    expect((await h().client.getNode()).kubeletVersion).toBe(OLD);
    expect((await h().sh('systemctl show -p Type,NotifyAccess,KillMode --value kip-agent.service')).split('\n').slice(0, 3)).toEqual(['notify', 'all', 'mixed']);
  });

  it('is active only after READY, and shows the STATUS= line', async () => {
    await h().sh('systemctl restart kip-agent.service', 90_000);
    // Type=notify: `systemctl restart` returned, so READY arrived; the server answers at once.
    const node = await h().client.getNode();
    expect(node.nodeName).not.toBe('');
    const status = (await h().sh('systemctl show -p StatusText --value kip-agent.service')).trim();
    expect(status).toMatch(new RegExp(`^serving 127\\.0\\.0\\.1:${h().agentPort}: kubelet ${OLD} active, no skip file, 0 staged`));
    const pid = Number((await h().sh('systemctl show -p MainPID --value kip-agent.service')).trim());
    const records = await journal(`_SYSTEMD_INVOCATION_ID=$(systemctl show -p InvocationID --value kip-agent.service) + _PID=1 -n 400`);
    const ready = pinoLines(records).find((l) => l.msg === 'ready' && l.pid === pid);
    const started = records.filter((r) => r._PID === '1' && /Started kip-agent/.test(r.MESSAGE ?? '')).pop();
    expect(ready, 'the agent logged ready').toBeDefined();
    expect(started, 'systemd logged Started').toBeDefined();
    // systemd reports the unit started only after the agent logged ready (listening + inventory
    // read), by the agent's own clock (pino time) against PID 1's entry: the same host clock.
    expect(Number(started?.__REALTIME_TIMESTAMP) / 1000).toBeGreaterThanOrEqual(Date.parse(String(ready?.time)));
  }, 120_000);

  it('carries pino fields in journalctl -o json', async () => {
    const lines = pinoLines(await journal('-n 200'));
    const listening = lines.find((l) => l.msg === 'kip-agent listening (mutual TLS)');
    expect(listening).toMatchObject({ name: 'kip-agent', level: 30, port: h().agentPort });
    expect(lines.some((l) => l.component === 'sd-notify' && typeof l.everyMs === 'number')).toBe(true);
  });

  it('swaps the kubelet under the hardened unit and logs node, run and method in the journal', async () => {
    const newBin = standInKubelet(NEW);
    await h().client.stageBinary({ version: NEW, sha256: sha256(newBin), size: newBin.length }, newBin);
    const runId = `artifact-${Date.now()}`;
    const events = [];
    for await (const e of h().client.upgrade({ runId, targetVersion: NEW })) events.push(e);
    const run = await h().client.getRun(runId);
    expect(run.phase, await h().logs()).toBe('RUN_SUCCEEDED');
    expect((await h().facts()).binSha).toBe(sha256(newBin));
    const lines = pinoLines(await journal('-n 400'));
    const node = (await h().client.getNode()).nodeName;
    expect(lines.find((l) => l.runId === runId && l.msg === 'run finished')).toMatchObject({ node, component: 'upgrade', phase: 'RUN_SUCCEEDED' });
    expect(lines.find((l) => l.method === 'Upgrade' && l.msg === 'call')).toMatchObject({ node, component: 'grpc' });
    expect(events.length).toBeGreaterThan(3);
  }, 180_000);

  it('is restarted by the watchdog when its event loop stalls (SIGSTOP)', async () => {
    const before = Number((await h().sh('systemctl show -p MainPID --value kip-agent.service')).trim());
    const restarts = Number((await h().sh('systemctl show -p NRestarts --value kip-agent.service')).trim());
    const kubeletPid = await h().mainPid('kubelet.service');
    await h().sh(`kill -STOP ${before}`);
    const after = await h().waitFor(
      'systemd to restart the stalled agent',
      async () => {
        const pid = Number((await h().sh('systemctl show -p MainPID --value kip-agent.service')).trim());
        const active = (await h().shMaybe('systemctl is-active kip-agent.service')).out.trim();
        return pid !== before && pid > 0 && active === 'active' ? pid : undefined;
      },
      60_000,
    );
    expect(after).not.toBe(before);
    expect(Number((await h().sh('systemctl show -p NRestarts --value kip-agent.service')).trim())).toBe(restarts + 1);
    const sys = await h().sh('journalctl -u kip-agent.service --no-pager -o cat _PID=1');
    expect(sys).toMatch(/Watchdog timeout/);
    // KillMode=mixed took the agent down; the kubelet (its own unit) kept running on the same pid.
    expect(await h().mainPid('kubelet.service')).toBe(kubeletPid);
    await h().waitAgentUp();
  }, 120_000);
});
