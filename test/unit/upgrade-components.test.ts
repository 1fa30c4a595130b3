/**
 * Runs of components other than the kubelet through the one state machine (fake node, real
 * machine, steps and files): systemd units (binary swap, flags drop-in, rollback), static pods
 * (manifest rewrite, new container, rollback to the exact old manifest), held components, one run
 * per node across components, and bad input that changes nothing.
 */
import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { FORWARD_STEPS } from '../../agent/upgrade/types.ts';
import { flagsDropIn } from '../../agent/upgrade/component.ts';
import { apiserverManifest, componentBinary, makeComponentHarness, MANIFESTS, type ComponentHarness } from './upgrade-component-fakes.ts';
import { collect, crashAt, sha256 } from './upgrade-fakes.ts';

let h: ComponentHarness | undefined;
afterEach(async () => {
  await h?.cleanup();
  h = undefined;
});

async function kipCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
  return 'no error';
}

describe('systemd components', () => {
  it('upgrades kube-scheduler v1.15.3 -> v1.16.2 by binary swap, then rolls back on request', async () => {
    h = await makeComponentHarness();
    const oldBin = componentBinary('kube-scheduler', 'v1.15.3');
    await h.node.addUnit('kube-scheduler', 'kube-scheduler.service', '/usr/local/bin/kube-scheduler', oldBin, ['--leader-elect=true']);
    const { agent, stage } = h.makeAgent();
    await agent.start();
    const newBin = componentBinary('kube-scheduler', 'v1.16.2');
    await h.stage(stage, 'kube-scheduler', 'v1.16.2', newBin);
    const report = await agent.preflight('v1.16.2', { component: 'kube-scheduler' });
    expect(report).toMatchObject({ ok: true, currentVersion: 'v1.15.3' });
    await agent.begin({ runId: 's1', targetVersion: 'v1.16.2', component: 'kube-scheduler' });
    const events = await collect(agent.events('s1'));
    expect(events.at(-1)).toMatchObject({ step: 'DONE', phase: 'RUN_SUCCEEDED' });
    expect(events.filter((e) => e.status === 'STEP_DONE').map((e) => e.step)).toEqual([...FORWARD_STEPS, 'DONE']);
    expect(sha256(await readFile(h.node.host('/usr/local/bin/kube-scheduler')))).toBe(sha256(newBin));
    expect(h.node.events).toEqual(['stop kube-scheduler.service', 'start kube-scheduler.service']);
    // The kubelet was not touched, nor its skip file written.
    expect(await h.node.read('/tmp/cache.version.save')).toBeUndefined();
    const run = await agent.getRun('s1');
    expect(run).toMatchObject({ component: 'kube-scheduler', spec: { kind: 'systemd', unit: 'kube-scheduler.service' } });
    expect(events.find((e) => e.step === 'VERIFY' && e.status === 'STEP_DONE')?.downtimeMs).toBeGreaterThanOrEqual(0);
    const rolled = await agent.rollback('s1');
    expect(rolled.phase).toBe('RUN_ROLLED_BACK');
    expect(sha256(await readFile(h.node.host('/usr/local/bin/kube-scheduler')))).toBe(sha256(oldBin));
  });

  it('migrates kube-proxy flags into a drop-in (refused without the override), and the rollback removes it', async () => {
    h = await makeComponentHarness();
    await h.node.addUnit('kube-proxy', 'kube-proxy.service', '/usr/local/bin/kube-proxy', componentBinary('kube-proxy', 'v1.15.3'), ['--resource-container=/kube-proxy', '--v=2']);
    const { agent, stage } = h.makeAgent();
    await agent.start();
    await h.stage(stage, 'kube-proxy', 'v1.16.2', componentBinary('kube-proxy', 'v1.16.2'));
    // --resource-container was removed in 1.16 (#78294); a non-empty value has no safe replacement.
    expect(await kipCode(agent.begin({ runId: 'p0', targetVersion: 'v1.16.2', component: 'kube-proxy' }))).toBe('COMPONENT_FLAGS_REFUSED');
    expect(h.node.events).toEqual([]);
    await expect(agent.getRun('p0')).rejects.toMatchObject({ code: 'RUN_NOT_FOUND' });
    await agent.begin({ runId: 'p1', targetVersion: 'v1.16.2', component: 'kube-proxy', allowDroppedFlags: ['--resource-container'] });
    const events = await collect(agent.events('p1'));
    expect(events.at(-1)).toMatchObject({ step: 'DONE' });
    const dropIn = await h.node.read(flagsDropIn('kube-proxy.service'));
    expect(dropIn).toContain('ExecStart=\nExecStart="/usr/local/bin/kube-proxy" "--v=2"\n');
    expect(dropIn).toContain('#78294');
    expect((await agent.rollback('p1')).phase).toBe('RUN_ROLLED_BACK');
    expect(await h.node.read(flagsDropIn('kube-proxy.service'))).toBeUndefined();
  });

  it('keep_served_apis: --runtime-config entries for a 1.16 kube-apiserver; refused for 1.18, for other components and for unknown APIs', async () => {
    h = await makeComponentHarness();
    await h.node.addUnit('kube-apiserver', 'kube-apiserver.service', '/usr/local/bin/kube-apiserver', componentBinary('kube-apiserver', 'v1.15.3'), ['--secure-port=6443']);
    await h.node.addUnit('kube-scheduler', 'kube-scheduler.service', '/usr/local/bin/kube-scheduler', componentBinary('kube-scheduler', 'v1.15.3'), []);
    const { agent, stage } = h.makeAgent();
    await agent.start();
    await h.stage(stage, 'kube-apiserver', 'v1.16.2', componentBinary('kube-apiserver', 'v1.16.2'));
    await h.stage(stage, 'kube-scheduler', 'v1.16.2', componentBinary('kube-scheduler', 'v1.16.2'));
    expect(await kipCode(agent.begin({ runId: 'k0', targetVersion: 'v1.16.2', component: 'kube-scheduler', keepServedApis: ['apps/v1beta1'] }))).toBe('KEEP_SERVED_APIS_REFUSED');
    expect(await kipCode(agent.begin({ runId: 'k1', targetVersion: 'v1.16.2', component: 'kube-apiserver', keepServedApis: ['apps/v1'] }))).toBe('KEEP_SERVED_APIS_REFUSED');
    expect(await kipCode(agent.begin({ runId: 'k2', targetVersion: 'v1.16.2', keepServedApis: ['apps/v1beta1'] }))).toBe('KEEP_SERVED_APIS_REFUSED');
    expect(h.node.events).toEqual([]);
    await agent.begin({ runId: 'k3', targetVersion: 'v1.16.2', component: 'kube-apiserver', keepServedApis: ['extensions/v1beta1/deployments', 'apps/v1beta2'] });
    expect((await collect(agent.events('k3'))).at(-1)).toMatchObject({ step: 'DONE' });
    expect(await h.node.read(flagsDropIn('kube-apiserver.service'))).toContain('"--runtime-config=extensions/v1beta1/deployments=true,apps/v1beta2=true"');
  });

  it('refuses keep_served_apis for a 1.18 kube-apiserver (no longer served at all)', async () => {
    const { runtimeConfigEntries } = await import('../../agent/upgrade/control-flags.ts');
    expect(() => runtimeConfigEntries('kube-apiserver', 'v1.18.0', ['apps/v1beta1'])).toThrow(/1\.18 no longer serves them/);
    expect(runtimeConfigEntries('kube-apiserver', 'v1.17.4', ['apps/v1beta1'])).toEqual(['apps/v1beta1=true']);
  });

  it('rolls back a crash-looping new kube-apiserver automatically, with the journal tail', async () => {
    h = await makeComponentHarness();
    const oldBin = componentBinary('kube-apiserver', 'v1.15.3');
    await h.node.addUnit('kube-apiserver', 'kube-apiserver.service', '/usr/local/bin/kube-apiserver', oldBin, ['--secure-port=6443']);
    const { agent, stage } = h.makeAgent({ verifyTimeoutMs: 300 });
    await agent.start();
    await h.stage(stage, 'kube-apiserver', 'v1.16.2', componentBinary('kube-apiserver', 'v1.16.2', { crash: true }));
    await agent.begin({ runId: 'a1', targetVersion: 'v1.16.2', component: 'kube-apiserver' });
    const events = await collect(agent.events('a1'));
    expect(events.find((e) => e.status === 'STEP_FAILED')).toMatchObject({ step: 'VERIFY', errorCode: 'VERIFY_FAILED', journalTail: ['component log line'] });
    expect(events.at(-1)).toMatchObject({ step: 'ROLLED_BACK', phase: 'RUN_ROLLED_BACK' });
    expect(sha256(await readFile(h.node.host('/usr/local/bin/kube-apiserver')))).toBe(sha256(oldBin));
    expect(h.node.units.get('kube-apiserver.service')?.active).toBe(true);
  });

  const points = FORWARD_STEPS.flatMap((s) => [`${s}:before`, `${s}:after`] as const);
  const systemdComponents = [
    { name: 'kube-apiserver', args: ['--secure-port=6443'] },
    { name: 'kube-controller-manager', args: ['--leader-elect=true'] },
    { name: 'kube-scheduler', args: [] },
    // A flag 1.16 removed: the run writes the flags drop-in, crash or not.
    { name: 'kube-proxy', args: ['--resource-container=', '--v=2'] },
  ] as const;
  const cases = systemdComponents.flatMap((c) => points.map((p) => [c.name, p, c.args] as const));
  it.each(cases)('kill of the agent in a %s run at %s: a new agent finishes it consistently', async (name, point, args) => {
    h = await makeComponentHarness();
    const unit = `${name}.service`;
    const binPath = `/usr/local/bin/${name}`;
    await h.node.addUnit(name, unit, binPath, componentBinary(name, 'v1.15.3'), [...args]);
    const [step, at] = point.split(':') as [string, 'before' | 'after'];
    const crash = crashAt(step, at);
    const first = h.makeAgent({ fault: crash.hook });
    await first.agent.start();
    const newBin = componentBinary(name, 'v1.16.2');
    await h.stage(first.stage, name, 'v1.16.2', newBin);
    await first.agent.begin({ runId: 'c1', targetVersion: 'v1.16.2', component: name });
    await crash.reached;
    const second = h.makeAgent();
    await second.agent.start();
    await second.agent.whenIdle();
    const run = await second.agent.getRun('c1');
    expect(run.phase).toBe('RUN_SUCCEEDED');
    expect(run.events.filter((e) => e.step === step && e.status === 'STEP_STARTED').length).toBe(2);
    const done = run.events.filter((e) => e.status === 'STEP_DONE').map((e) => e.step);
    expect(new Set(done).size).toBe(done.length);
    expect(sha256(await readFile(h.node.host(binPath)))).toBe(sha256(newBin));
    expect(h.node.units.get(unit)?.active).toBe(true);
    const dropIn = await h.node.read(flagsDropIn(unit));
    if (name === 'kube-proxy') expect(dropIn).toContain('ExecStart="/usr/local/bin/kube-proxy" "--v=2"');
    else expect(dropIn).toBeUndefined();
    // The backup is whole: every copy matches its checksum.
    const { readdir } = await import('node:fs/promises');
    const dir = `${h.stateDir}/backups/c1`;
    const manifest = JSON.parse(await readFile(`${dir}/manifest.json`, 'utf8')) as { entries: { present: boolean; copy?: string; sha256?: string }[] };
    for (const e of manifest.entries.filter((x) => x.present)) expect(sha256(await readFile(`${dir}/files/${e.copy ?? ''}`))).toBe(e.sha256);
    expect((await readdir(h.node.host('/usr/local/bin'))).filter((f) => f.includes('kip-tmp'))).toEqual([]);
  });

  it.each(points)('kill of the agent in a static-pod kube-apiserver run at %s: a new agent finishes it, the manifest whole', async (point) => {
    h = await makeComponentHarness();
    await h.node.addStaticPod('kube-apiserver', apiserverManifest('v1.15.3'));
    const [step, at] = point.split(':') as [string, 'before' | 'after'];
    const crash = crashAt(step, at);
    const first = h.makeAgent({ fault: crash.hook });
    await first.agent.start();
    await first.agent.begin({ runId: 'c2', targetVersion: 'v1.16.2', component: 'kube-apiserver' });
    await crash.reached;
    const second = h.makeAgent();
    await second.agent.start();
    await second.agent.whenIdle();
    const run = await second.agent.getRun('c2');
    expect(run.phase).toBe('RUN_SUCCEEDED');
    // One whole manifest: the one the run wrote (its checksum journaled), naming the new image.
    const text = (await h.node.read(`${MANIFESTS}/kube-apiserver.yaml`)) ?? '';
    expect(sha256(text)).toBe(run.installedSha256);
    expect(text).toContain('image: k8s.gcr.io/kube-apiserver:v1.16.2');
    expect(text).toContain('# the kubeadm layout: every flag in command');
    expect(h.node.containers.filter((c) => c.state === 'running').map((c) => c.image)).toEqual(['k8s.gcr.io/kube-apiserver:v1.16.2']);
  });
});

describe('held components', () => {
  it('swaps a held kube-scheduler and leaves it held; Release verifies it; an unhealthy one is COMPONENT_UNHEALTHY and Rollback(run_id) restores the old one', async () => {
    h = await makeComponentHarness();
    const oldBin = componentBinary('kube-scheduler', 'v1.15.3');
    await h.node.addUnit('kube-scheduler', 'kube-scheduler.service', '/usr/local/bin/kube-scheduler', oldBin, []);
    const { agent, stage } = h.makeAgent({ verifyTimeoutMs: 300 });
    await agent.start();
    // Hold (as HoldStore does it): stopped, and its start jobs skipped.
    h.node.holds.set('kube-scheduler', 'held');
    await h.node.systemd.stop('kube-scheduler.service');
    await h.stage(stage, 'kube-scheduler', 'v1.16.2', componentBinary('kube-scheduler', 'v1.16.2', { crash: true }));
    await agent.begin({ runId: 'h1', targetVersion: 'v1.16.2', component: 'kube-scheduler' });
    const events = await collect(agent.events('h1'));
    expect(events.at(-1)).toMatchObject({ step: 'DONE', phase: 'RUN_SUCCEEDED' });
    const skipped = events.filter((e) => e.skipped === 'SKIPPED_HELD').map((e) => e.step);
    expect(skipped).toEqual(['STOP_KUBELET', 'START_KUBELET', 'VERIFY']);
    expect(h.node.units.get('kube-scheduler.service')?.active).toBe(false);
    expect(h.node.events.filter((e) => e.startsWith('start'))).toEqual([]);
    // Hold and Release wait for no run of the component; the run is over, so Release may go.
    await agent.assertNoRunOf('kube-scheduler');
    // Release: the hold goes, the unit starts (crash-looping), and the verification fails.
    h.node.holds.delete('kube-scheduler');
    await h.node.systemd.start('kube-scheduler.service');
    expect(await kipCode(agent.verifyReleased('kube-scheduler'))).toBe('COMPONENT_UNHEALTHY');
    expect((await agent.getRun('h1')).releaseError).toMatch(/^VERIFY_FAILED/);
    const rolled = await agent.rollback('h1');
    expect(rolled.phase).toBe('RUN_ROLLED_BACK');
    expect(sha256(await readFile(h.node.host('/usr/local/bin/kube-scheduler')))).toBe(sha256(oldBin));
    expect(h.node.units.get('kube-scheduler.service')).toMatchObject({ active: true, crash: false });
  });

  it('a healthy held swap passes the Release verification and is marked released', async () => {
    h = await makeComponentHarness();
    await h.node.addUnit('kube-scheduler', 'kube-scheduler.service', '/usr/local/bin/kube-scheduler', componentBinary('kube-scheduler', 'v1.15.3'), []);
    const { agent, stage } = h.makeAgent();
    await agent.start();
    h.node.holds.set('kube-scheduler', 'held');
    await h.node.systemd.stop('kube-scheduler.service');
    await h.stage(stage, 'kube-scheduler', 'v1.16.2', componentBinary('kube-scheduler', 'v1.16.2'));
    await agent.begin({ runId: 'h2', targetVersion: 'v1.16.2', component: 'kube-scheduler' });
    await collect(agent.events('h2'));
    h.node.holds.delete('kube-scheduler');
    await h.node.systemd.start('kube-scheduler.service');
    await agent.verifyReleased('kube-scheduler');
    expect((await agent.getRun('h2')).releasedAtMs).toBeGreaterThan(0);
  });
});

describe('a plain Hold/Release (no run swapped the component) waits for health too', () => {
  it('a kube-scheduler that comes back crash-looping after Release is COMPONENT_UNHEALTHY, naming no run', async () => {
    h = await makeComponentHarness();
    await h.node.addUnit('kube-scheduler', 'kube-scheduler.service', '/usr/local/bin/kube-scheduler', componentBinary('kube-scheduler', 'v1.15.3'), []);
    const { agent } = h.makeAgent({ verifyTimeoutMs: 300 });
    await agent.start();
    const heldAt = Date.now();
    h.node.holds.set('kube-scheduler', 'held');
    await h.node.systemd.stop('kube-scheduler.service');
    // Broken while held by something other than kip (no run): it crash-loops once started.
    await h.node.put('/usr/local/bin/kube-scheduler', componentBinary('kube-scheduler', 'v1.15.3', { crash: true }), 0o755);
    h.node.holds.delete('kube-scheduler');
    await h.node.systemd.start('kube-scheduler.service');
    let err: unknown;
    await agent.verifyReleased('kube-scheduler', heldAt).catch((e: unknown) => {
      err = e;
    });
    expect(err).toMatchObject({ code: 'COMPONENT_UNHEALTHY', details: { component: 'kube-scheduler', cause: 'VERIFY_FAILED' } });
    expect((err as Error).message).toMatch(/v1\.15\.3 did not run healthy after Release .*no kip run changed it/);
    expect((err as { details: Record<string, unknown> }).details.runId).toBeUndefined();
  });

  it('a healthy kube-scheduler passes once its unit is active and stable', async () => {
    h = await makeComponentHarness();
    await h.node.addUnit('kube-scheduler', 'kube-scheduler.service', '/usr/local/bin/kube-scheduler', componentBinary('kube-scheduler', 'v1.15.3'), []);
    const { agent } = h.makeAgent({ verifyTimeoutMs: 2_000 });
    await agent.start();
    h.node.holds.set('kube-scheduler', 'held');
    await h.node.systemd.stop('kube-scheduler.service');
    h.node.holds.delete('kube-scheduler');
    await h.node.systemd.start('kube-scheduler.service');
    await agent.verifyReleased('kube-scheduler', Date.now());
  });

  it('a static pod must run in a container created after the hold began: the old one still listed is not enough', async () => {
    h = await makeComponentHarness();
    const live = `${MANIFESTS}/kube-apiserver.yaml`;
    await h.node.addStaticPod('kube-apiserver', apiserverManifest('v1.15.3'));
    const { agent } = h.makeAgent({ verifyTimeoutMs: 300 });
    await agent.start();
    // A kubelet that did not act on the hold: the container from before it is the only one. The
    // hold is dated 2 s after that container (beyond the verification's 1 s of clock slack).
    h.node.kubeletActs = false;
    expect(await kipCode(agent.verifyReleased('kube-apiserver', Date.now() + 2_000))).toBe('COMPONENT_UNHEALTHY');
    // A kubelet that acts: Hold took the manifest away (it stopped the pod), Release put it back.
    h.node.kubeletActs = true;
    const text = (await h.node.read(live)) ?? '';
    const { rm } = await import('node:fs/promises');
    await rm(h.node.host(live));
    await h.node.kubeletSync();
    const heldAt = Date.now();
    await h.node.put(live, text, 0o600);
    await agent.verifyReleased('kube-apiserver', heldAt);
  });
});

describe('static pods', () => {
  it('rewrites the kube-apiserver manifest (image tag and flags), sees the new container, and a rollback restores the exact old manifest', async () => {
    h = await makeComponentHarness();
    const old = apiserverManifest('v1.15.3', ['--insecure-experimental-approve-all-kubelet-csrs-for-group=system:nodes']);
    await h.node.addStaticPod('kube-apiserver', old);
    const { agent } = h.makeAgent();
    await agent.start();
    const report = await agent.preflight('v1.16.2', { component: 'kube-apiserver' });
    expect(report.ok).toBe(true);
    await agent.begin({ runId: 'sp1', targetVersion: 'v1.16.2', component: 'kube-apiserver', keepServedApis: ['apps/v1beta1'] });
    const events = await collect(agent.events('sp1'));
    expect(events.at(-1)).toMatchObject({ step: 'DONE', phase: 'RUN_SUCCEEDED' });
    const now = (await h.node.read(`${MANIFESTS}/kube-apiserver.yaml`)) ?? '';
    expect(now).toContain('image: k8s.gcr.io/kube-apiserver:v1.16.2');
    expect(now).toContain('--runtime-config=apps/v1beta1=true');
    // Comments and the rest of the file are kept.
    expect(now).toContain('# the kubeadm layout: every flag in command');
    const running = h.node.containers.filter((c) => c.state === 'running');
    expect(running.map((c) => c.image)).toEqual(['k8s.gcr.io/kube-apiserver:v1.16.2']);
    expect(events.find((e) => e.step === 'VERIFY' && e.status === 'STEP_DONE')?.message).toContain(`container ${running[0]?.id.slice(0, 12)}`);
    expect((await agent.rollback('sp1')).phase).toBe('RUN_ROLLED_BACK');
    expect(await h.node.read(`${MANIFESTS}/kube-apiserver.yaml`)).toBe(old);
    expect(h.node.containers.filter((c) => c.state === 'running').map((c) => c.image)).toEqual(['k8s.gcr.io/kube-apiserver:v1.15.3']);
  });

  it('a static pod whose new container never comes up is rolled back to the old manifest', async () => {
    h = await makeComponentHarness();
    const old = apiserverManifest('v1.15.3');
    await h.node.addStaticPod('kube-apiserver', old);
    const { agent } = h.makeAgent({ verifyTimeoutMs: 200 });
    await agent.start();
    h.node.kubeletActs = false;
    await agent.begin({ runId: 'sp2', targetVersion: 'v1.16.2', component: 'kube-apiserver' });
    // The kubelet comes back only for the rollback.
    const events: string[] = [];
    for await (const e of agent.events('sp2')) {
      events.push(`${e.step}:${e.status}`);
      if (e.step === 'VERIFY' && e.status === 'STEP_FAILED') h.node.kubeletActs = true;
    }
    expect(events).toContain('VERIFY:STEP_FAILED');
    expect(events.at(-1)).toBe('ROLLED_BACK:STEP_DONE');
    expect(await h.node.read(`${MANIFESTS}/kube-apiserver.yaml`)).toBe(old);
  });

  it('a held static pod: the manifest is rewritten where Hold keeps it, nothing is started', async () => {
    h = await makeComponentHarness();
    await h.node.addStaticPod('kube-apiserver', apiserverManifest('v1.15.3'));
    const held = h.node.components.heldManifestPath(`${MANIFESTS}/kube-apiserver.yaml`);
    await h.node.put(held, (await h.node.read(`${MANIFESTS}/kube-apiserver.yaml`)) ?? '');
    const { rm } = await import('node:fs/promises');
    await rm(h.node.host(`${MANIFESTS}/kube-apiserver.yaml`));
    h.node.holds.set('kube-apiserver', 'held');
    const { agent } = h.makeAgent();
    await agent.start();
    await agent.begin({ runId: 'sp3', targetVersion: 'v1.16.2', component: 'kube-apiserver' });
    const events = await collect(agent.events('sp3'));
    expect(events.at(-1)).toMatchObject({ step: 'DONE', phase: 'RUN_SUCCEEDED' });
    expect(events.filter((e) => e.skipped === 'SKIPPED_HELD').map((e) => e.step)).toEqual(['START_KUBELET', 'VERIFY']);
    expect(await h.node.read(held)).toContain('kube-apiserver:v1.16.2');
    expect(await h.node.read(`${MANIFESTS}/kube-apiserver.yaml`)).toBeUndefined();
  });
});

describe('bad input changes nothing', () => {
  it('unknown name, a component the node does not run, a wrong-component binary, a manifest that does not parse', async () => {
    h = await makeComponentHarness();
    await h.node.addUnit('kube-scheduler', 'kube-scheduler.service', '/usr/local/bin/kube-scheduler', componentBinary('kube-scheduler', 'v1.15.3'), []);
    const { agent, stage } = h.makeAgent();
    await agent.start();
    expect(await kipCode(agent.begin({ runId: 'b1', targetVersion: 'v1.16.2', component: 'etcd' }))).toBe('COMPONENT_UNKNOWN');
    expect(await kipCode(agent.preflight('v1.16.2', { component: 'kube-proxy' }))).toBe('COMPONENT_NOT_ON_NODE');
    expect(await kipCode(agent.begin({ runId: 'b2', targetVersion: 'v1.16.2', component: 'kube-proxy' }))).toBe('COMPONENT_NOT_ON_NODE');
    // A kube-proxy binary claimed as kube-apiserver: same "Kubernetes v1.16.2", another program.
    expect(await kipCode(h.stage(stage, 'kube-apiserver', 'v1.16.2', componentBinary('kube-proxy', 'v1.16.2')))).toBe('STAGE_WRONG_COMPONENT');
    expect(await kipCode(h.stage(stage, 'kubelet', 'v1.16.2', componentBinary('kube-proxy', 'v1.16.2')))).toBe('STAGE_WRONG_COMPONENT');
    expect(await stage.list()).toEqual([]);
    expect(await kipCode(stage.remove('v1.16.2', 'kube-nothing'))).toBe('COMPONENT_UNKNOWN');
    // A broken manifest.
    await h.node.put(`${MANIFESTS}/kube-apiserver.yaml`, 'apiVersion: v1\nkind: Pod\nspec: [unclosed\n');
    h.node.runs.set('kube-apiserver', { kind: 'static-pod', manifest: `${MANIFESTS}/kube-apiserver.yaml` });
    expect(await kipCode(agent.begin({ runId: 'b3', targetVersion: 'v1.16.2', component: 'kube-apiserver' }))).toBe('MANIFEST_INVALID');
    expect(await h.node.read(`${MANIFESTS}/kube-apiserver.yaml`)).toBe('apiVersion: v1\nkind: Pod\nspec: [unclosed\n');
    expect(h.node.events).toEqual([]);
    expect(h.node.units.get('kube-scheduler.service')?.active).toBe(true);
    await expect(agent.getRun()).rejects.toMatchObject({ code: 'RUN_NOT_FOUND' });
  });

  it('Rollback of a run whose later runs were all rolled back goes ahead (kip rollback: the node\'s kube-proxy run, then its kubelet run); one over it not rolled back refuses it', async () => {
    h = await makeComponentHarness();
    const oldScheduler = componentBinary('kube-scheduler', 'v1.15.3');
    await h.node.addUnit('kube-scheduler', 'kube-scheduler.service', '/usr/local/bin/kube-scheduler', oldScheduler, []);
    await h.node.addUnit('kube-proxy', 'kube-proxy.service', '/usr/local/bin/kube-proxy', componentBinary('kube-proxy', 'v1.15.3'), ['--v=2']);
    const { agent, stage } = h.makeAgent();
    await agent.start();
    await h.stage(stage, 'kube-scheduler', 'v1.16.2', componentBinary('kube-scheduler', 'v1.16.2'));
    await h.stage(stage, 'kube-proxy', 'v1.16.2', componentBinary('kube-proxy', 'v1.16.2'));
    await agent.begin({ runId: 's1', targetVersion: 'v1.16.2', component: 'kube-scheduler' });
    expect((await collect(agent.events('s1'))).at(-1)).toMatchObject({ phase: 'RUN_SUCCEEDED' });
    await agent.begin({ runId: 'p1', targetVersion: 'v1.16.2', component: 'kube-proxy' });
    expect((await collect(agent.events('p1'))).at(-1)).toMatchObject({ phase: 'RUN_SUCCEEDED' });
    // p1 still stands over s1: refused, naming it, nothing changed
    expect(await agent.rollback('s1').catch((e: unknown) => e)).toMatchObject({ code: 'ROLLBACK_NOT_LAST_RUN', message: expect.stringContaining('roll back p1 first') });
    expect((await agent.getRun('s1')).phase).toBe('RUN_SUCCEEDED');
    expect((await agent.rollback('p1')).phase).toBe('RUN_ROLLED_BACK');
    // nothing of p1 is left over s1 now
    expect((await agent.rollback('s1')).phase).toBe('RUN_ROLLED_BACK');
    expect(sha256(await readFile(h.node.host('/usr/local/bin/kube-scheduler')))).toBe(sha256(oldScheduler));
    expect((await agent.getRun()).runId).toBe('s1');
  });

  it('one run per node: a kubelet run is refused while a kube-scheduler run is in progress, naming it', async () => {
    h = await makeComponentHarness();
    await h.node.addUnit('kube-scheduler', 'kube-scheduler.service', '/usr/local/bin/kube-scheduler', componentBinary('kube-scheduler', 'v1.15.3'), []);
    const crash = crashAt('SWAP_BINARY', 'before');
    const { agent, stage } = h.makeAgent({ fault: crash.hook });
    await agent.start();
    await h.stage(stage, 'kubelet', 'v1.16.2', componentBinary('kubelet', 'v1.16.2'));
    await h.stage(stage, 'kube-scheduler', 'v1.16.2', componentBinary('kube-scheduler', 'v1.16.2'));
    // Staged per component: the same version twice, two binaries.
    expect((await stage.list()).map((b) => `${b.component} ${b.version}`)).toEqual(['kubelet v1.16.2', 'kube-scheduler v1.16.2']);
    await agent.begin({ runId: 'ks', targetVersion: 'v1.16.2', component: 'kube-scheduler' });
    await crash.reached;
    const err = await agent.begin({ runId: 'kl', targetVersion: 'v1.16.2', allowUnpatched: true }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'RUN_IN_PROGRESS', details: { runId: 'ks' } });
    const report = await agent.preflight('v1.16.2', { component: 'kube-scheduler' });
    expect(report.checks.find((c) => c.name === 'no-run-in-progress')).toMatchObject({ status: 'CHECK_FAIL', message: expect.stringMatching(/^RUN_IN_PROGRESS: run ks/) });
    // Hold/Release of the component under the run are refused, of another one not.
    expect(await kipCode(agent.assertNoRunOf('kube-scheduler'))).toBe('RUN_IN_PROGRESS');
    await agent.assertNoRunOf('kube-controller-manager');
  });
});
