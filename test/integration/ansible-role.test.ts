/**
 * scripts/ansible/roles/kip_agent run by Debian's real ansible-playbook (community.docker.nsenter
 * connection, no ssh) against two nspawn nodes with a real systemd, a kubelet.service and no
 * Node.js: bad input fails before the node changes, --check changes nothing, the install (notify
 * readiness, journal fields, GetNode), a second run with changed=0, an in-place agent upgrade
 * that leaves the kubelet alone, the watchdog, certificate rotation through the reload handler
 * (a re-issued agent certificate, then a new CA: SIGHUP, same MainPID, the new serial on the wire,
 * an old-CA client refused), and removal.
 */
import { readFile, mkdtemp, rm, copyFile, writeFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execaExec } from '../../lib/exec.ts';
import { waitFor } from '../../lib/poll.ts';
import { AgentConnection } from '../../coordinator/fleet/client.ts';
import { cachedAgentArtifact, cachedKipArtifact } from '../../scripts/package/cached.ts';
import { bootKubeletNode, nsenterInventory, runPlaybook, type KubeletNode, type PlaybookResult } from '../../scripts/ansible/harness.ts';
import pkg from '../../package.json' with { type: 'json' };

const OLD = 'v1.10.13';
let tmp = '';
let kip = '';
let agentV1 = '';
let agentV2 = '';
let pkiDir = '';
let inventory = '';
const nodes: KubeletNode[] = [];

function vars(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { kip_agent_artifact: agentV1, kip_agent_kip_cli: kip, kip_agent_pki_dir: pkiDir, kip_agent_unit_extra: ['WatchdogSec=3s'], ...extra };
}

function n(i: number): KubeletNode {
  const node = nodes[i];
  if (!node) throw new Error(`node ${i} not booted`);
  return node;
}

async function out(node: KubeletNode, cmd: string): Promise<string> {
  return (await node.sh(cmd)).out.trim();
}

const mainPid = async (node: KubeletNode, unit: string) => Number(await out(node, `systemctl show -p MainPID --value ${unit}`));

function expectOk(r: PlaybookResult): void {
  expect(r.exitCode, `${JSON.stringify(r.failures)}\n${r.raw.slice(-4000)}`).toBe(0);
}

async function getNode(node: KubeletNode) {
  const read = (f: string) => readFile(path.join(pkiDir, f));
  const c = new AgentConnection({ address: `127.0.0.1:${node.agentPort}`, tls: { ca: await read('ca.crt'), cert: await read('viewer-kip-ansible.crt'), key: await read('viewer-kip-ansible.key') }, maxRetries: 3, backoffMs: 300 });
  try {
    return await c.getNode();
  } finally {
    c.close();
  }
}

/** The serial of the certificate the agent serves to a new TLS connection (mutual TLS with the given client). */
function servedSerial(node: KubeletNode, client: { ca: Buffer; cert: Buffer; key: Buffer }): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = tlsConnect({ host: '127.0.0.1', port: node.agentPort, ca: client.ca, cert: client.cert, key: client.key, ALPNProtocols: ['h2'] }, () => {
      const serial = sock.getPeerCertificate().serialNumber;
      sock.destroy();
      resolve(serial.toUpperCase());
    });
    sock.setTimeout(20_000, () => sock.destroy(new Error('TLS handshake timed out')));
    sock.once('error', reject);
  });
}

async function viewer(dir = pkiDir) {
  const read = (f: string) => readFile(path.join(dir, f));
  return { ca: await read('ca.crt'), cert: await read('viewer-kip-ansible.crt'), key: await read('viewer-kip-ansible.key') };
}

const fileSerial = async (file: string) => new X509Certificate(await readFile(file)).serialNumber.toUpperCase();

async function kipPki(args: string[]): Promise<void> {
  const r = await execaExec(kip, ['pki', ...args], { timeoutMs: 60_000 });
  expect(r.exitCode, r.stderr).toBe(0);
}

/** Nothing of the role on the node. */
async function nothingInstalled(node: KubeletNode): Promise<string> {
  return out(node, 'ls -d /usr/local/bin/kip-agent /etc/kip /etc/systemd/system/kip-agent.service /var/lib/kip-agent 2>/dev/null; true');
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'kip-ansible-'));
  [kip, agentV1, agentV2] = [await cachedKipArtifact(), await cachedAgentArtifact(), await cachedAgentArtifact({ buildId: 'ansible2' })];
  pkiDir = path.join(tmp, 'pki');
  const init = await execaExec(kip, ['pki', 'init', '--dir', pkiDir], { timeoutMs: 60_000 });
  expect(init.exitCode, init.stderr).toBe(0);
  nodes.push(...(await Promise.all([bootKubeletNode('kip-ans-1', path.join(tmp, 'n1'), OLD), bootKubeletNode('kip-ans-2', path.join(tmp, 'n2'), OLD)])));
  inventory = path.join(tmp, 'inventory.yml');
  await writeFile(inventory, nsenterInventory(nodes));
}, 600_000);

afterAll(async () => {
  try {
    await Promise.all(nodes.map((x) => x.node.stop()));
  } finally {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }
}, 120_000);

describe('the kip_agent role under real ansible-playbook', () => {
  it('fails on bad input before it changes the node, naming the variable or file and the fix', async () => {
    // Four inventory hosts, all the first node, each with one mistake; a separate CA holds a
    // certificate whose key is another host's.
    const bad = path.join(tmp, 'bad-pki');
    for (const args of [['init'], ['issue', '--agent', 'mismatch', '--ip', '127.0.0.1'], ['issue', '--agent', 'other', '--ip', '127.0.0.1']]) {
      const r = await execaExec(kip, ['pki', ...args, '--dir', bad], { timeoutMs: 60_000 });
      expect(r.exitCode, r.stderr).toBe(0);
    }
    await copyFile(path.join(bad, 'agent-other.key'), path.join(bad, 'agent-mismatch.key'));
    const base = { ansible_connection: 'community.docker.nsenter', ansible_nsenter_pid: n(0).node.leaderPid, ansible_become: false, ansible_python_interpreter: '/usr/bin/python3' };
    const inv = path.join(tmp, 'bad.yml');
    await writeFile(inv, JSON.stringify({ all: { hosts: {
      'no-address': { ...base },
      'wrong-type': { ...base, ansible_host: '127.0.0.1', kip_agent_port: 'seven' },
      'no-cert': { ...base, ansible_host: '127.0.0.1', kip_agent_issue_certs: false },
      mismatch: { ...base, ansible_host: '127.0.0.1', kip_agent_issue_certs: false },
    } } }));
    const r = await runPlaybook({ inventory: inv, extraVars: vars({ kip_agent_pki_dir: bad }) });
    expect(r.exitCode).not.toBe(0);
    const msg = (host: string) => r.failures.filter((f) => f.host === host).map((f) => f.msg).join('\n');
    expect(msg('no-address')).toMatch(/host no-address has no IP address .*set ansible_host or kip_agent_address/);
    expect(msg('wrong-type')).toMatch(/kip_agent_port/);
    expect(msg('no-cert')).toMatch(/agent-no-cert\.crt cannot be read \(ENOENT\); issue it with kip pki issue/);
    expect(msg('mismatch')).toMatch(/agent-mismatch\.key does not belong to certificate .*agent-mismatch\.crt; install the key issued with that certificate/);
    for (const h of ['no-address', 'wrong-type', 'no-cert', 'mismatch']) expect(r.stats[h]?.failures, h).toBe(1);
    expect(await nothingInstalled(n(0))).toBe('');
  }, 300_000);

  it('changes nothing in --check mode on fresh nodes, and says what it would change', async () => {
    const r = await runPlaybook({ inventory, extraVars: vars(), check: true });
    expectOk(r);
    for (const x of nodes) {
      expect(r.changedTasks[x.name]).toEqual(expect.arrayContaining(['kip_agent : The agent artifact', 'kip_agent : /etc/kip/agent.yaml', 'kip_agent : The systemd unit']));
      expect(await nothingInstalled(x)).toBe('');
    }
  }, 300_000);

  it('installs and starts the agent; systemd calls it active only after READY; the journal has its fields', async () => {
    const r = await runPlaybook({ inventory, extraVars: vars() });
    expectOk(r);
    for (const x of nodes) {
      expect(await out(x, 'systemctl is-active kip-agent.service')).toBe('active');
      expect(await out(x, 'systemctl is-enabled kip-agent.service')).toBe('enabled');
      expect(await out(x, 'command -v node nodejs; true')).toBe('');
      expect(await out(x, 'stat -c %a /etc/kip/pki/agent.key')).toBe('600');
      const info = await getNode(x);
      expect(info).toMatchObject({ nodeName: x.name, agentVersion: pkg.version, kubeletVersion: OLD });
      expect(await out(x, 'systemctl show -p Type,WatchdogUSec --value kip-agent.service')).toBe('notify\n3s');
      // The pino "ready" line (READY=1 is sent right after it) comes before PID 1's "Started".
      const records = (await out(x, 'journalctl -u kip-agent.service -o json --no-pager -n 300')).split('\n').map((l) => JSON.parse(l) as Record<string, string>);
      const pino = records.filter((rec) => rec.SYSLOG_IDENTIFIER === 'kip-agent' && rec.MESSAGE?.startsWith('{')).map((rec) => JSON.parse(rec.MESSAGE ?? '{}') as Record<string, unknown>);
      const ready = pino.find((l) => l.msg === 'ready');
      const started = records.filter((rec) => rec._PID === '1' && /Started kip-agent/.test(rec.MESSAGE ?? '')).pop();
      expect(ready, 'the agent logged ready').toBeDefined();
      expect(started, 'systemd logged Started').toBeDefined();
      expect(Number(started?.__REALTIME_TIMESTAMP) / 1000).toBeGreaterThanOrEqual(Date.parse(String(ready?.time)));
      expect(pino.find((l) => l.msg === 'kip-agent listening (mutual TLS)')).toMatchObject({ node: x.name, port: x.agentPort });
      expect(pino.some((l) => l.node === x.name && typeof l.component === 'string')).toBe(true);
    }
  }, 400_000);

  it('reports changed=0 on a second run', async () => {
    const r = await runPlaybook({ inventory, extraVars: vars() });
    expectOk(r);
    for (const x of nodes) expect({ host: x.name, changed: r.stats[x.name]?.changed, tasks: r.changedTasks[x.name] ?? [] }).toEqual({ host: x.name, changed: 0, tasks: [] });
  }, 300_000);

  it('kip inventory --from-ansible turns the same inventory into the agents the coordinator dials', async () => {
    const r = await execaExec(kip, ['inventory', '--from-ansible', inventory, '-o', 'json'], { timeoutMs: 60_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { agents: { name: string; address: string }[] };
    expect(doc.agents.map((a) => [a.name, a.address])).toEqual(nodes.map((x) => [x.name, `127.0.0.1:${x.agentPort}`]));
  }, 60_000);

  it('upgrades the agent in place: a new artifact restarts kip-agent only, the kubelet keeps its pid', async () => {
    const kubelets = await Promise.all(nodes.map((x) => mainPid(x, 'kubelet.service')));
    const agents = await Promise.all(nodes.map((x) => mainPid(x, 'kip-agent.service')));
    const r = await runPlaybook({ inventory, extraVars: vars({ kip_agent_artifact: agentV2 }) });
    expectOk(r);
    for (const [i, x] of nodes.entries()) {
      expect(r.changedTasks[x.name]).toEqual(['kip_agent : The agent artifact', 'kip_agent : Restart kip-agent']);
      expect((await getNode(x)).agentVersion).toBe(`${pkg.version}+ansible2`);
      expect(await mainPid(x, 'kip-agent.service')).not.toBe(agents[i]);
      expect(await mainPid(x, 'kubelet.service')).toBe(kubelets[i]);
      expect(await out(x, 'systemctl show -p NRestarts --value kubelet.service')).toBe('0');
    }
  }, 300_000);

  it('is restarted by the watchdog when the agent stalls (SIGSTOP), the kubelet untouched', async () => {
    const x = n(0);
    const before = await mainPid(x, 'kip-agent.service');
    const kubelet = await mainPid(x, 'kubelet.service');
    await x.sh(`kill -STOP ${before}`);
    await waitFor('systemd to restart the stalled agent', async () => {
      const pid = await mainPid(x, 'kip-agent.service');
      return pid !== before && pid > 0 && (await out(x, 'systemctl is-active kip-agent.service')) === 'active' ? pid : undefined;
    }, { timeoutMs: 60_000, intervalMs: 250 });
    expect(await out(x, 'journalctl -u kip-agent.service --no-pager -o cat _PID=1')).toMatch(/Watchdog timeout/);
    expect(await mainPid(x, 'kubelet.service')).toBe(kubelet);
    expect((await getNode(x)).nodeName).toBe(x.name);
  }, 120_000);

  it('rotates an agent certificate through the reload handler: SIGHUP, the same MainPID and kubelet, the new serial on the wire', async () => {
    // The agent is the second build now (the in-place upgrade above): keep it, so only certificates change.
    const x = n(0);
    const crt = path.join(pkiDir, `agent-${x.name}.crt`);
    const oldSerial = await fileSerial(crt);
    expect(await servedSerial(x, await viewer())).toBe(oldSerial);
    const [agentPid, kubeletPid] = [await mainPid(x, 'kip-agent.service'), await mainPid(x, 'kubelet.service')];
    const restarts = await out(x, 'systemctl show -p NRestarts --value kip-agent.service');
    await kipPki(['issue', '--agent', x.name, '--ip', '127.0.0.1', '--dns', x.name, '--dir', pkiDir, '--force']);
    const newSerial = await fileSerial(crt);
    expect(newSerial).not.toBe(oldSerial);
    const r = await runPlaybook({ inventory, extraVars: vars({ kip_agent_artifact: agentV2 }) });
    expectOk(r);
    expect(r.changedTasks[x.name]).toEqual(['kip_agent : The certificates (CA, agent certificate, agent key 0600)', 'kip_agent : Reload kip-agent']);
    expect(r.changedTasks[n(1).name] ?? []).toEqual([]);
    // systemctl reload returns once ExecReload (kill -HUP) ran; the agent swaps its context right after.
    await waitFor('the agent to serve the new certificate', async () => ((await servedSerial(x, await viewer())) === newSerial ? true : undefined), { timeoutMs: 60_000, intervalMs: 250 });
    expect(await mainPid(x, 'kip-agent.service')).toBe(agentPid);
    expect(await out(x, 'systemctl show -p NRestarts --value kip-agent.service')).toBe(restarts);
    expect(await mainPid(x, 'kubelet.service')).toBe(kubeletPid);
    expect(await out(x, `journalctl -u kip-agent.service --no-pager -o cat _PID=${agentPid}`)).toMatch(/certificates reloaded/);
    expect((await getNode(x)).nodeName).toBe(x.name);
  }, 300_000);

  it('rotates the CA (kip_agent_pki_dir pointed at a new one): a reload again, and a client of the old CA is refused', async () => {
    const oldPki = pkiDir;
    const newPki = path.join(tmp, 'pki-2');
    await kipPki(['init', '--dir', newPki]);
    const pids = await Promise.all(nodes.map(async (x) => [await mainPid(x, 'kip-agent.service'), await mainPid(x, 'kubelet.service')]));
    pkiDir = newPki;
    const r = await runPlaybook({ inventory, extraVars: vars({ kip_agent_artifact: agentV2 }) });
    expectOk(r);
    const fresh = await viewer(newPki);
    const stale = await viewer(oldPki);
    for (const [i, x] of nodes.entries()) {
      // The role issued this host's certificate from the new CA, copied CA + certificate + key, and reloaded.
      expect(r.changedTasks[x.name]).toEqual(expect.arrayContaining(['kip_agent : Issue the agent certificate (kip pki issue --agent)', 'kip_agent : The certificates (CA, agent certificate, agent key 0600)', 'kip_agent : Reload kip-agent']));
      expect(r.changedTasks[x.name]).not.toContain('kip_agent : Restart kip-agent');
      const serial = await fileSerial(path.join(newPki, `agent-${x.name}.crt`));
      await waitFor(`${x.name} to serve the certificate of the new CA`, async () => ((await servedSerial(x, fresh)) === serial ? true : undefined), { timeoutMs: 60_000, intervalMs: 250 });
      expect([await mainPid(x, 'kip-agent.service'), await mainPid(x, 'kubelet.service')]).toEqual(pids[i]);
      // A client certificate of the old CA (the server verified against the new CA) is refused.
      const old = new AgentConnection({ address: `127.0.0.1:${x.agentPort}`, tls: { ca: fresh.ca, cert: stale.cert, key: stale.key }, maxRetries: 0 });
      try {
        await expect(old.getNode()).rejects.toThrow();
      } finally {
        old.close();
      }
      expect((await getNode(x)).nodeName).toBe(x.name);
    }
  }, 400_000);

  it('removes everything with kip_agent_state=absent, and the kubelet keeps running', async () => {
    const kubelets = await Promise.all(nodes.map((x) => mainPid(x, 'kubelet.service')));
    const r = await runPlaybook({ inventory, extraVars: vars({ kip_agent_state: 'absent' }) });
    expectOk(r);
    for (const [i, x] of nodes.entries()) {
      expect(await nothingInstalled(x)).toBe('');
      expect(await out(x, 'systemctl is-active kip-agent.service; true')).not.toBe('active');
      expect(await mainPid(x, 'kubelet.service')).toBe(kubelets[i]);
    }
    const again = await runPlaybook({ inventory, extraVars: vars({ kip_agent_state: 'absent' }) });
    expectOk(again);
    for (const x of nodes) expect(again.stats[x.name]?.changed).toBe(0);
  }, 300_000);
});
