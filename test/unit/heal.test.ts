// The heal gate (kip heal / kip finalize refusal rules) and the heal service's journal, with fakes.
import { describe, expect, it } from 'vitest';
import { healGate, type HealFacts } from '../../agent/heal/gate.ts';
import { HealService, type HealPorts } from '../../agent/heal/heal.ts';
import type { ContainerInfo } from '../../agent/runtime/types.ts';
import type { UnitInfo } from '../../agent/upgrade/ports.ts';
import { silentLogger } from '../../lib/logger.ts';
import { NodeClaim } from '../../agent/upgrade/node-claim.ts';

const skip = { present: true, valid: true, version: 'v1.13.12', problem: '' };
const noSkip = { present: false, valid: false, version: '', problem: '' };
const clean = { oldHash: [], undecodable: 0, allConsistent: true, problems: [] };
const facts = (over: Partial<HealFacts>): HealFacts => ({ mode: 'restart', runInProgress: false, kubeletActive: true, kubeletPatched: true, kubeletVersion: '1.14', skipFile: skip, hashes: clean, ...over });

describe('heal gate', () => {
  it('restart: allowed with a valid skip file for a patched kubelet, whatever the hashes', () => {
    expect(healGate(facts({ hashes: { ...clean, oldHash: ['ns/p/web'], allConsistent: false } }))).toMatchObject({ ok: true });
    expect(healGate(facts({ hashes: undefined, hashesError: 'down' }))).toMatchObject({ ok: true });
  });
  it('restart: without a usable skip file only when no container carries an old hash', () => {
    for (const f of [{ skipFile: noSkip }, { skipFile: { ...skip, valid: false, problem: 'bad' } }, { kubeletPatched: false }]) {
      expect(healGate(facts({ ...f, hashes: clean }))).toMatchObject({ ok: true });
      expect(healGate(facts({ ...f, hashes: { ...clean, oldHash: ['ns/p/web'], allConsistent: false } }))).toMatchObject({ ok: false, code: 'HEAL_WOULD_RESTART_CONTAINERS' });
      expect(healGate(facts({ ...f, hashes: { ...clean, undecodable: 1 } }))).toMatchObject({ ok: false, code: 'HEAL_WOULD_RESTART_CONTAINERS' });
      expect(healGate(facts({ ...f, hashes: undefined, hashesError: 'apiserver down' }))).toMatchObject({ ok: false, code: 'HEAL_HASHES_UNKNOWN' });
    }
  });
  it('never during a run', () => {
    expect(healGate(facts({ runInProgress: true }))).toMatchObject({ ok: false, code: 'HEAL_RUN_IN_PROGRESS' });
    expect(healGate(facts({ mode: 'finalize', skipFile: noSkip, runInProgress: true }))).toMatchObject({ ok: false, code: 'HEAL_RUN_IN_PROGRESS' });
  });
  it('finalize: only with the skip file gone, the kubelet active and a complete, consistent join', () => {
    expect(healGate(facts({ mode: 'finalize', skipFile: noSkip }))).toMatchObject({ ok: true });
    expect(healGate(facts({ mode: 'finalize' }))).toMatchObject({ ok: false, code: 'FINALIZE_SKIP_FILE_PRESENT' });
    expect(healGate(facts({ mode: 'finalize', skipFile: noSkip, kubeletActive: false }))).toMatchObject({ ok: false, code: 'FINALIZE_KUBELET_NOT_ACTIVE' });
    expect(healGate(facts({ mode: 'finalize', skipFile: noSkip, hashes: undefined }))).toMatchObject({ ok: false, code: 'FINALIZE_NOT_CONSISTENT' });
    expect(healGate(facts({ mode: 'finalize', skipFile: noSkip, hashes: { ...clean, allConsistent: false, problems: ['1 unknown'] } }))).toMatchObject({ ok: false, code: 'FINALIZE_NOT_CONSISTENT', message: 'not consistent: 1 unknown' });
  });
});

const container = (id: string): ContainerInfo => ({ id, podSandboxId: 's', name: 'web', attempt: 0, state: 'running', createdAtNs: 0n, image: 'i', imageRef: 'i', labels: { 'io.kubernetes.pod.uid': 'u', 'io.kubernetes.pod.name': 'p', 'io.kubernetes.pod.namespace': 'ns' }, annotations: {} });

/** The claim's journal on its own map: the heal journal's write log stays as it was. */
function memoryClaimFs() {
  const m = new Map<string, string>();
  return { readText: async (f: string) => m.get(f), writeAtomic: async (f: string, d: string | Buffer) => void m.set(f, String(d)), remove: async (f: string) => void m.delete(f), mkdirp: async () => {} };
}

function fakeNode(opts: { failWrite?: boolean; restartContainers?: boolean } = {}) {
  const files = new Map<string, string>();
  const calls: string[] = [];
  let t = 1_000;
  let pid = 100;
  let active = true;
  let containers = [container('c1'), container('c2')];
  const unit = (): UnitInfo => ({ activeState: active ? 'active' : 'inactive', subState: active ? 'running' : 'dead', mainPid: active ? pid : 0, execMainStartUsec: 0, nRestarts: 0, fragmentPath: '', dropInPaths: [], environmentFiles: [], privateTmp: false, mountOptions: { temporaryFileSystem: [], rootDirectory: '', rootImage: '', inaccessiblePaths: [], bindPaths: [], protectHome: '' }, execStart: [], needDaemonReload: false });
  let gateFacts: Omit<HealFacts, 'mode'> = { runInProgress: false, kubeletActive: true, kubeletPatched: true, kubeletVersion: '1.14', skipFile: skip, hashes: clean };
  const ports: HealPorts = {
    fs: {
      readText: async (f) => files.get(f),
      writeAtomic: async (f, d) => {
        if (opts.failWrite) throw new Error('EROFS');
        calls.push(`journal ${JSON.parse(String(d)).phase}`);
        files.set(f, String(d));
      },
      mkdirp: async () => {},
      list: async (dir) => [...files.keys()].filter((k) => k.startsWith(`${dir}/`)).map((k) => k.slice(dir.length + 1)),
    },
    systemd: {
      unitInfo: async () => unit(),
      stop: async () => { calls.push('stop'); active = false; },
      start: async () => { calls.push('start'); active = true; pid += 1; if (opts.restartContainers) containers = [container('c1'), container('c3')]; },
    },
    health: { healthz: async () => { t += 250; return { ok: true, detail: 'ok' }; } },
    clock: { now: () => t, sleep: async (ms) => { t += ms; } },
    logger: silentLogger(),
    facts: async () => gateFacts,
    containers: async () => containers,
    config: { stateDir: '/s', kubeletUnit: 'kubelet.service', healthzUrl: 'http://h', verifyTimeoutMs: 10_000, pollMs: 100 },
    claim: new NodeClaim({ fs: memoryClaimFs(), stateDir: '/s', clock: { now: () => t, sleep: async () => {} }, logger: silentLogger() }),
  };
  return { ports, calls, files, setFacts: (f: Partial<typeof gateFacts>) => { gateFacts = { ...gateFacts, ...f }; }, stopKubelet: () => { active = false; } };
}

describe('heal service', () => {
  it('journals, restarts, waits for a healthy new PID, and compares the containers', async () => {
    const n = fakeNode();
    const r = await new HealService(n.ports).heal({ mode: 'restart', dryRun: false, healId: 'h1', settleMs: 1 });
    expect(n.calls).toEqual(['journal restarting', 'stop', 'start', 'journal done']);
    expect(r).toMatchObject({ restarted: true, oldMainPid: 100, newMainPid: 101, containersBefore: 2, containersRestarted: [], downtimeMs: 250 });
    // a repeated id answers from the journal, never restarting twice
    expect(await new HealService(n.ports).heal({ mode: 'restart', dryRun: false, healId: 'h1' })).toEqual(r);
    expect(n.calls.filter((c) => c === 'stop')).toHaveLength(1);
  });
  it('reports a container the restart replaced', async () => {
    const n = fakeNode({ restartContainers: true });
    const r = await new HealService(n.ports).heal({ mode: 'restart', dryRun: false, healId: 'h2', settleMs: 1 });
    expect(r.containersRestarted).toEqual(['ns/p/web (c2)']);
  });
  it('refuses by the gate, and a dry run changes nothing', async () => {
    const n = fakeNode();
    n.setFacts({ skipFile: noSkip, hashes: { ...clean, oldHash: ['ns/p/web'], allConsistent: false } });
    await expect(new HealService(n.ports).heal({ mode: 'restart', dryRun: false, healId: 'h3' })).rejects.toMatchObject({ code: 'HEAL_WOULD_RESTART_CONTAINERS' });
    n.setFacts({ skipFile: skip });
    const dry = await new HealService(n.ports).heal({ mode: 'restart', dryRun: true, healId: 'h4' });
    expect(dry).toMatchObject({ dryRun: true, restarted: false, oldMainPid: 100, oldHashContainers: ['ns/p/web'] });
    expect(n.calls).toEqual([]);
  });
  it('does not touch the kubelet when the journal cannot be written', async () => {
    const n = fakeNode({ failWrite: true });
    await expect(new HealService(n.ports).heal({ mode: 'restart', dryRun: false, healId: 'h5' })).rejects.toThrow('EROFS');
    expect(n.calls).toEqual([]);
  });
  it('starts a kubelet left stopped by an agent killed mid-heal, at start-up', async () => {
    const n = fakeNode();
    n.files.set('/s/heal/h6.json', JSON.stringify({ healId: 'h6', mode: 'restart', phase: 'restarting', oldMainPid: 100, startedAtMs: 1 }));
    n.stopKubelet();
    await new HealService(n.ports).recover();
    expect(n.calls).toEqual(['start', 'journal recovered']);
    await expect(new HealService(n.ports).heal({ mode: 'restart', dryRun: false, healId: 'h6' })).rejects.toMatchObject({ code: 'HEAL_ID_USED' });
  });
  it('rejects a bad heal id', async () => {
    await expect(new HealService(fakeNode().ports).heal({ mode: 'restart', dryRun: false, healId: '../x' })).rejects.toMatchObject({ code: 'HEAL_ID_INVALID' });
  });
});
