import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../lib/clock.ts';
import type { Exec } from '../../lib/exec.ts';
import {
  HOLD_DROP_IN_CONTENT,
  HoldStore,
  ManifestInvalidError,
  backupManifest,
  discoverComponents,
  editManifest,
  parseStaticPodManifest,
  restoreManifest,
  waitForStaticPodContainer,
  type Component,
} from '../../agent/components/index.ts';
import type { ContainerFilter, ContainerInfo, RuntimeReader } from '../../agent/runtime/index.ts';
import type { Systemd } from '../../agent/systemd/index.ts';
import { nodeFileSystem } from '../../agent/upgrade/fs.ts';
import { APISERVER_MANIFEST } from './components-pure.test.ts';

/** systemd as far as these modules use it: units with a LoadState and an active flag; every call recorded. */
class FakeSystemd implements Systemd {
  readonly calls: string[] = [];
  readonly units = new Map<string, { props: Record<string, string>; active: boolean }>();
  failStop = false;
  async show(unit: string, properties: readonly string[]) {
    const u = this.units.get(unit);
    const all: Record<string, string> = u ? { LoadState: 'loaded', ...u.props } : { LoadState: 'not-found' };
    return Object.fromEntries(properties.filter((p) => p in all).map((p) => [p, all[p] as string]));
  }
  async start(unit: string) {
    this.calls.push(`start ${unit}`);
    const u = this.units.get(unit);
    if (u) u.active = true;
  }
  async stop(unit: string) {
    this.calls.push(`stop ${unit}`);
    if (this.failStop) throw new Error('stop job failed');
    const u = this.units.get(unit);
    if (u) u.active = false;
  }
  async restart(unit: string) {
    this.calls.push(`restart ${unit}`);
  }
  async daemonReload() {
    this.calls.push('daemon-reload');
  }
  async isActive(unit: string) {
    return this.units.get(unit)?.active ? 'active' : 'inactive';
  }
}

let root: string;
const host = (p: string) => path.join(root, p);
const put = async (p: string, data: string) => {
  await mkdir(path.dirname(host(p)), { recursive: true });
  await writeFile(host(p), data);
};
const exists = async (p: string) => stat(host(p)).then(() => true, () => false);

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'kip-components-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const fakeExec: Exec = async (command, args) => {
  const text = await readFile(command, 'utf8').catch(() => '');
  const m = /VERSION=(\S+)/.exec(text);
  return { command, args, exitCode: m && args[0] === '--version' ? 0 : 1, signal: undefined, stdout: m ? `Kubernetes ${m[1]}\n` : '', stderr: '', timedOut: false, durationMs: 1 };
};

describe('discoverComponents', () => {
  it('finds static pods by manifest and the others by loaded unit, with versions and probes', async () => {
    const sd = new FakeSystemd();
    await put('/etc/kubernetes/manifests/kube-apiserver.yaml', APISERVER_MANIFEST);
    await put('/usr/bin/kube-proxy', 'VERSION=v1.12.10\n');
    await put('/usr/bin/kubelet', 'VERSION=v1.12.10\n');
    await put('/etc/default/kube-proxy', 'PROXY_ARGS="--healthz-bind-address=127.0.0.1:20256 --kubeconfig=/etc/kubernetes/proxy.conf"\n');
    await put('/etc/systemd/system/kube-proxy.service', '[Service]\nEnvironmentFile=/etc/default/kube-proxy\nExecStart=/usr/bin/kube-proxy $PROXY_ARGS\n');
    sd.units.set('kube-proxy.service', {
      active: true,
      props: { FragmentPath: '/etc/systemd/system/kube-proxy.service', DropInPaths: '', EnvironmentFiles: '/etc/default/kube-proxy (ignore_errors=no)', ExecStart: '{ path=/usr/bin/kube-proxy ; argv[]=/usr/bin/kube-proxy $PROXY_ARGS ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }' },
    });
    sd.units.set('kubelet.service', { active: true, props: { FragmentPath: '', DropInPaths: '', EnvironmentFiles: '', ExecStart: '{ path=/usr/bin/kubelet ; argv[]=/usr/bin/kubelet ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }' } });
    const found = await discoverComponents({ fs: nodeFileSystem, systemd: sd, exec: fakeExec, hostPath: host, manifestsDir: '/etc/kubernetes/manifests', kubeletUnit: 'kubelet.service', kubeletBinary: '/usr/bin/kubelet', kubeletHealthzUrl: 'http://127.0.0.1:10248/healthz' });
    expect(found.map((c) => c.name)).toEqual(['kubelet', 'kube-proxy', 'kube-apiserver']);
    const [kubelet, proxy, api] = found as [Component, Component, Component];
    expect(kubelet.version).toBe('v1.12.10');
    expect(proxy.runtime).toMatchObject({ kind: 'systemd', unit: 'kube-proxy.service', binary: '/usr/bin/kube-proxy', envFiles: ['/etc/default/kube-proxy'], configFiles: ['/etc/kubernetes/proxy.conf'] });
    expect(proxy.version).toBe('v1.12.10');
    expect(proxy.health.url).toBe('http://127.0.0.1:20256/healthz');
    expect(api.runtime).toMatchObject({ kind: 'static-pod', manifest: '/etc/kubernetes/manifests/kube-apiserver.yaml', container: 'kube-apiserver' });
    expect(api.version).toBe('v1.12.10');
    expect(api.health.url).toBe('https://127.0.0.1:6443/healthz');
  });

  it('takes the config over discovery, and refuses a bad config or a manifest that does not parse', async () => {
    const sd = new FakeSystemd();
    await put('/opt/sched.yaml', APISERVER_MANIFEST.replaceAll('kube-apiserver', 'kube-scheduler'));
    const deps = { fs: nodeFileSystem, systemd: sd, exec: fakeExec, hostPath: host, manifestsDir: '/etc/kubernetes/manifests', kubeletUnit: 'kubelet.service', kubeletBinary: '/usr/bin/kubelet', kubeletHealthzUrl: '' };
    const found = await discoverComponents(deps, [{ name: 'kube-scheduler', manifest: '/opt/sched.yaml', healthUrl: 'http://127.0.0.1:1/healthz' }]);
    expect(found.map((c) => [c.name, c.origin, c.health.url])).toEqual([['kube-scheduler', 'config', 'http://127.0.0.1:1/healthz']]);
    await expect(discoverComponents(deps, [{ name: 'kube-scheduler', unit: 'x.service' }])).rejects.toThrow(/name its binary too/);
    await expect(discoverComponents(deps, [{ name: 'kube-scheduler', unit: 'x.service', binary: '/x', manifest: '/y' }])).rejects.toThrow(/exactly one of/);
    await put('/etc/kubernetes/manifests/kube-controller-manager.yaml', 'apiVersion: v1\nkind: Pod\nspec: [\n');
    await expect(discoverComponents(deps)).rejects.toThrow(ManifestInvalidError);
  });
});

describe('static pod swap primitives', () => {
  const M = '/etc/kubernetes/manifests/kube-apiserver.yaml';
  it('backs up, rewrites atomically (mode kept, no temp left), and restores byte for byte', async () => {
    await put(M, APISERVER_MANIFEST);
    const { chmod } = await import('node:fs/promises');
    await chmod(host(M), 0o600);
    const b = await backupManifest(nodeFileSystem, host(M), 'kube-apiserver', host('/var/lib/kip-agent/backup'));
    const r = await editManifest(nodeFileSystem, host(M), 'kube-apiserver', { image: 'k8s.gcr.io/kube-apiserver:v1.13.12', args: ['--secure-port=6443'] });
    expect(r.before.version).toBe('v1.12.10');
    expect(r.after.version).toBe('v1.13.12');
    expect(parseStaticPodManifest(await readFile(host(M), 'utf8'), M, 'kube-apiserver').args).toEqual(['--secure-port=6443']);
    expect((await stat(host(M))).mode & 0o777).toBe(0o600);
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(path.dirname(host(M)))).toEqual(['kube-apiserver.yaml']);
    await restoreManifest(nodeFileSystem, b);
    expect(await readFile(host(M), 'utf8')).toBe(APISERVER_MANIFEST);
  });

  it('refuses to back up or edit a manifest that does not parse, and leaves it as it was', async () => {
    await put(M, 'apiVersion: v1\nkind: Pod\nspec: [\n');
    await expect(backupManifest(nodeFileSystem, host(M), 'kube-apiserver', host('/b'))).rejects.toThrow(ManifestInvalidError);
    await expect(editManifest(nodeFileSystem, host(M), 'kube-apiserver', { image: 'x:v1.13.12' })).rejects.toThrow(ManifestInvalidError);
    expect(await readFile(host(M), 'utf8')).toBe('apiVersion: v1\nkind: Pod\nspec: [\n');
    expect(await exists('/b')).toBe(false);
  });

  it('waits for a running container of the static pod with the new image, created after the swap', async () => {
    const clock = new FakeClock(1_000);
    const containers: ContainerInfo[] = [];
    const mk = (id: string, image: string, state: ContainerInfo['state'], createdAtNs: bigint, pod = 'kube-apiserver-node1'): ContainerInfo => ({
      id, podSandboxId: 's', name: 'kube-apiserver', attempt: 0, state, createdAtNs, labels: { 'io.kubernetes.container.name': 'kube-apiserver', 'io.kubernetes.pod.name': pod }, annotations: {}, image, imageRef: image,
    });
    const runtime: RuntimeReader = {
      version: async () => ({ criApi: 'v1', runtimeName: 'fake', runtimeVersion: '0', runtimeApiVersion: 'v1' }),
      listContainers: async (f?: ContainerFilter) => containers.filter((c) => Object.entries(f?.labelSelector ?? {}).every(([k, v]) => c.labels[k] === v)),
      listPodSandboxes: async () => [],
      containerStatus: async () => { throw new Error('unused'); },
    };
    containers.push(mk('old', 'k8s.gcr.io/kube-apiserver:v1.12.10', 'running', 5n));
    containers.push(mk('other', 'k8s.gcr.io/kube-apiserver:v1.13.12', 'running', 50n, 'kube-apiserver-x-node1'));
    const waiting = waitForStaticPodContainer(runtime, clock, { container: 'kube-apiserver', podName: 'kube-apiserver', nodeName: 'node1', image: 'k8s.gcr.io/kube-apiserver:v1.13.12', sinceNs: 10n, timeoutMs: 5_000, pollMs: 100 });
    let settled: ContainerInfo | undefined;
    void waiting.then((c) => { settled = c; });
    for (let i = 0; i < 5; i++) { await new Promise((r) => setImmediate(r)); clock.advance(100); }
    expect(settled).toBeUndefined();
    containers.push(mk('new', 'k8s.gcr.io/kube-apiserver:v1.13.12', 'running', 20n));
    for (let i = 0; i < 5 && !settled; i++) { await new Promise((r) => setImmediate(r)); clock.advance(100); }
    expect((await waiting).id).toBe('new');
    const late = waitForStaticPodContainer(runtime, clock, { container: 'kube-apiserver', podName: 'kube-apiserver', nodeName: 'node1', image: 'k8s.gcr.io/kube-apiserver:v1.14.10', sinceNs: 10n, timeoutMs: 300, pollMs: 100 });
    const failed = late.catch((e: unknown) => e);
    for (let i = 0; i < 6; i++) { await new Promise((r) => setImmediate(r)); clock.advance(100); }
    expect(String(await failed)).toMatch(/did not run kube-apiserver with image k8s.gcr.io\/kube-apiserver:v1.14.10 .*new running/);
  });
});

describe('HoldStore', () => {
  const schedUnit: Component = {
    name: 'kube-scheduler', version: 'v1.12.10', args: [], origin: 'discovered', health: { url: '', insecureSkipVerify: false, source: '' },
    runtime: { kind: 'systemd', unit: 'kube-scheduler.service', binary: '/usr/bin/kube-scheduler', unitFile: '', dropIns: [], envFiles: [], configFiles: [] },
  };
  const cmPod: Component = {
    name: 'kube-controller-manager', version: 'v1.12.10', args: [], origin: 'discovered', health: { url: '', insecureSkipVerify: false, source: '' },
    runtime: { kind: 'static-pod', manifest: '/etc/kubernetes/manifests/kube-controller-manager.yaml', container: 'kube-controller-manager', image: 'x:v1.12.10' },
  };
  const store = (sd: FakeSystemd) => new HoldStore({ fs: nodeFileSystem, systemd: sd, clock: new FakeClock(7), stateDir: host('/var/lib/kip-agent'), hostPath: host });

  it('systemd: drop-in, reload, stop; idempotent; release removes it and starts what was running', async () => {
    const sd = new FakeSystemd();
    sd.units.set('kube-scheduler.service', { active: true, props: {} });
    const s = store(sd);
    const h = await s.hold(schedUnit);
    expect(h.changed).toBe(true);
    expect(h.record.phase).toBe('held');
    expect(await readFile(host('/etc/systemd/system/kube-scheduler.service.d/90-kip-hold.conf'), 'utf8')).toBe(HOLD_DROP_IN_CONTENT);
    expect(sd.calls).toEqual(['daemon-reload', 'stop kube-scheduler.service']);
    expect((await s.hold(schedUnit)).changed).toBe(false);
    expect(sd.calls).toHaveLength(2);
    const r = await s.release('kube-scheduler');
    expect(r).toEqual({ component: 'kube-scheduler', changed: true, started: true });
    expect(await exists('/etc/systemd/system/kube-scheduler.service.d/90-kip-hold.conf')).toBe(false);
    expect(sd.calls.slice(2)).toEqual(['daemon-reload', 'start kube-scheduler.service']);
    expect((await s.release('kube-scheduler')).changed).toBe(false);
    expect(await s.list()).toEqual([]);
  });

  it('a unit that was stopped stays stopped after release', async () => {
    const sd = new FakeSystemd();
    sd.units.set('kube-scheduler.service', { active: false, props: {} });
    const s = store(sd);
    await s.hold(schedUnit);
    expect((await s.release('kube-scheduler')).started).toBe(false);
    expect(sd.calls).not.toContain('start kube-scheduler.service');
  });

  it('a failed stop leaves the journal at "holding"; reconcile after a restart finishes the hold', async () => {
    const sd = new FakeSystemd();
    sd.units.set('kube-scheduler.service', { active: true, props: {} });
    sd.failStop = true;
    await expect(store(sd).hold(schedUnit)).rejects.toThrow(/HOLD_FAILED|stop kube-scheduler.service failed/);
    expect((await store(sd).get('kube-scheduler'))?.phase).toBe('holding');
    sd.failStop = false;
    const after = await store(sd).reconcile();
    expect(after.map((r) => [r.component, r.phase])).toEqual([['kube-scheduler', 'held']]);
    expect((await store(sd).get('kube-scheduler'))?.kind === 'systemd' && (await store(sd).get('kube-scheduler'))).toMatchObject({ wasActive: true });
  });

  it('static pod: moves the manifest to kip-held and back; an interrupted release is finished by reconcile', async () => {
    const sd = new FakeSystemd();
    await put(cmPod.runtime.kind === 'static-pod' ? cmPod.runtime.manifest : '', 'apiVersion: v1\n');
    const s = store(sd);
    await s.hold(cmPod);
    expect(await exists('/etc/kubernetes/manifests/kube-controller-manager.yaml')).toBe(false);
    expect(await readFile(host('/etc/kubernetes/kip-held/kube-controller-manager.yaml'), 'utf8')).toBe('apiVersion: v1\n');
    // simulate kill -9 between the "releasing" journal write and the move back
    const rec = await s.get('kube-controller-manager');
    await writeFile(host('/var/lib/kip-agent/holds/kube-controller-manager.json'), JSON.stringify({ ...rec, phase: 'releasing' }));
    expect(await store(sd).reconcile()).toEqual([]);
    expect(await readFile(host('/etc/kubernetes/manifests/kube-controller-manager.yaml'), 'utf8')).toBe('apiVersion: v1\n');
    expect(await s.list()).toEqual([]);
  });

  it('refuses the kubelet', async () => {
    const s = store(new FakeSystemd());
    await expect(s.hold({ ...schedUnit, name: 'kubelet' })).rejects.toThrow(/HOLD_REFUSED|upgrade it with Upgrade/);
    await expect(s.release('kubelet')).rejects.toThrow(/cannot hold or release kubelet/);
  });
});

describe('discoverComponents(only)', () => {
  it('looks at one component only, so another broken manifest does not fail it', async () => {
    const sd = new FakeSystemd();
    await put('/etc/kubernetes/manifests/kube-apiserver.yaml', 'apiVersion: v1\nkind: Pod\nspec: [\n');
    await put('/etc/kubernetes/manifests/kube-scheduler.yaml', APISERVER_MANIFEST.replaceAll('kube-apiserver', 'kube-scheduler'));
    const deps = { fs: nodeFileSystem, systemd: sd, exec: fakeExec, hostPath: host, manifestsDir: '/etc/kubernetes/manifests', kubeletUnit: 'kubelet.service', kubeletBinary: '/usr/bin/kubelet', kubeletHealthzUrl: '' };
    await expect(discoverComponents(deps)).rejects.toThrow(ManifestInvalidError);
    expect((await discoverComponents(deps, [], 'kube-scheduler')).map((c) => [c.name, c.version])).toEqual([['kube-scheduler', 'v1.12.10']]);
  });
});
