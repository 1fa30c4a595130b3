/**
 * Heal (kip heal / kip finalize) against real systemd: kip-agent runs as a unit in an nspawn node
 * beside the stand-in kubelet (scripts/nspawn/agent-node.ts), and the test calls it over gRPC +
 * mutual TLS. Without a skip file and without workload access the agent cannot prove that a
 * restart restarts no container: refused, kubelet untouched. With a valid skip file for the
 * patched kubelet: a dry run changes nothing; a heal restarts kubelet.service and answers with the
 * old and the new MainPID (systemd's) and the downtime. A heal journal left "restarting" with the
 * kubelet stopped (an agent killed mid-heal) has the kubelet started again when the agent starts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentConnection } from '../../coordinator/fleet/client.ts';
import { AgentCallError } from '../../coordinator/fleet/errors.ts';
import { bootAgentNode, SKIP_FILE, type AgentNode } from '../../scripts/nspawn/agent-node.ts';

let an: AgentNode | undefined;
let client: AgentConnection;
const h = (): AgentNode => {
  if (!an) throw new Error('node not booted');
  return an;
};
const mainPid = async (): Promise<number> => Number((await h().sh('systemctl show -p MainPID --value kubelet.service')).trim());

beforeAll(async () => {
  an = await bootAgentNode({ name: `kip-heal-it-${process.pid}`, kubeletVersion: 'v1.10.13', stableMs: 500, pollMs: 50, verifyTimeoutMs: 30_000 });
  client = an.client;
}, 10 * 60_000);

afterAll(async () => {
  await an?.stop();
}, 120_000);

describe('Heal under real systemd', () => {
  it('refuses without proof, restarts with a valid skip file reporting both MainPIDs and the downtime', async () => {
    const pid0 = await mainPid();
    expect(pid0).toBeGreaterThan(0);
    const refused = await client.heal({ mode: 'HEAL_RESTART', healId: 'it-refused' }).then(() => undefined, (e: unknown) => e);
    expect(refused).toBeInstanceOf(AgentCallError);
    expect(refused).toMatchObject({ kind: 'precondition', code: 'HEAL_HASHES_UNKNOWN' });
    const fin = await client.heal({ mode: 'HEAL_FINALIZE', healId: 'it-fin' }).then(() => undefined, (e: unknown) => e);
    expect(fin).toMatchObject({ code: 'FINALIZE_NOT_CONSISTENT' });
    expect(await mainPid()).toBe(pid0);

    await h().sh(`printf 'v1.10.13,1574812800' > ${SKIP_FILE}`);
    const dry = await client.heal({ mode: 'HEAL_RESTART', healId: 'it-dry', dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, restarted: false, oldMainPid: pid0 });
    expect(dry.gate).toContain('skip file v1.10.13 present');
    expect(await mainPid()).toBe(pid0);

    const r = await client.heal({ mode: 'HEAL_RESTART', healId: 'it-heal', settleMs: 200 });
    const pid1 = await mainPid();
    expect(r).toMatchObject({ restarted: true, oldMainPid: pid0, newMainPid: pid1, containersRestarted: [] });
    expect(pid1).not.toBe(pid0);
    expect(Number(r.downtimeMs)).toBeGreaterThan(0);
    expect((await h().sh('systemctl is-active kubelet.service')).trim()).toBe('active');
    // the same heal id answers from the journal: no second restart
    expect(await client.heal({ mode: 'HEAL_RESTART', healId: 'it-heal' })).toMatchObject({ newMainPid: pid1 });
    expect(await mainPid()).toBe(pid1);
    // finalize is refused while the skip file is there
    await expect(client.heal({ mode: 'HEAL_FINALIZE', healId: 'it-fin2' })).rejects.toMatchObject({ code: 'FINALIZE_SKIP_FILE_PRESENT' });
  }, 180_000);

  it('starts a kubelet an interrupted heal left stopped, when the agent starts', async () => {
    await h().sh(`mkdir -p /var/lib/kip-agent/heal && printf '{"healId":"it-killed","mode":"restart","phase":"restarting","oldMainPid":1,"startedAtMs":1}' > /var/lib/kip-agent/heal/it-killed.json`);
    await h().sh('systemctl stop kubelet.service && systemctl restart kip-agent.service');
    await h().waitFor('the kubelet started by the agent', async () => ((await h().shMaybe('systemctl is-active kubelet.service')).out.trim() === 'active' ? true : undefined), 60_000);
    await h().waitAgentUp();
    expect(JSON.parse(await h().sh('cat /var/lib/kip-agent/heal/it-killed.json'))).toMatchObject({ phase: 'recovered' });
    await expect(client.heal({ mode: 'HEAL_RESTART', healId: 'it-killed' })).rejects.toMatchObject({ code: 'HEAL_ID_USED' });
  }, 180_000);
});
