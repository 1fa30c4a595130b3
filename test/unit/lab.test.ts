/**
 * The lab's pure parts: the workload plan, the node files (the kubelet command line they make is
 * accepted by the v1.10 lab kubelet and carries flags later versions remove), and the CLI's
 * argument checks and refusals (with fake deps: no process is started).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { containerHash } from '../../lib/knowledge/hash/index.ts';
import { effectiveFlags, resolveKubeletCommandLine } from '../../agent/kubelet/index.ts';
import { parseKubeletArgs } from '../../scripts/lab/kubelet/flags.ts';
import { SELECTOR_LABEL, SELECTOR_POD, workloadPlan } from '../../scripts/lab/workloads.ts';
import { agentConfig, apiserverConfig, etcdUnit, kubeletDefaults, kubeletDropIn, KUBELET_PATHS, KUBELET_UNIT, nodeAddresses } from '../../scripts/lab/node-config.ts';
import { main, runLab, type LabCommandDeps } from '../../scripts/lab/cli.ts';
import { silentLogger } from '../../lib/logger.ts';
import { main as kipMain } from '../../coordinator/cli.ts';
import type { CliIo } from '../../coordinator/io.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('workloadPlan', () => {
  const workers = ['worker-1', 'worker-2', 'worker-3'];
  const full = workloadPlan(workers, 'full');

  it('is a realistic cluster: ~20 pods / ~40 containers across namespaces, a daemon-set-like pod per node', () => {
    expect(full.pods.length).toBeGreaterThanOrEqual(18);
    expect(full.pods.length).toBeLessThanOrEqual(24);
    expect(full.containers).toBeGreaterThanOrEqual(35);
    expect(full.containers).toBe(full.pods.reduce((n, p) => n + (p.spec?.containers.length ?? 0), 0));
    expect(full.namespaces.length).toBeGreaterThanOrEqual(4);
    for (const w of workers) expect(full.pods.filter((p) => p.metadata?.name?.startsWith('kube-proxy-') && p.spec?.nodeName === w)).toHaveLength(1);
    const names = full.pods.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`);
    expect(new Set(names).size).toBe(names.length);
  });

  it('every pod is bound, mounts its service-account token, has no tolerations; fractional quantities and probes are there', () => {
    let fractional = 0;
    let probes = 0;
    let securityContexts = 0;
    for (const p of full.pods) {
      expect(workers).toContain(p.spec?.nodeName);
      expect(p.spec?.tolerations).toBeUndefined();
      for (const c of p.spec?.containers ?? []) {
        expect(c.volumeMounts?.some((m) => m.mountPath === '/var/run/secrets/kubernetes.io/serviceaccount' && m.readOnly)).toBe(true);
        const qty = [...Object.values(c.resources?.requests ?? {}), ...Object.values(c.resources?.limits ?? {})];
        if (qty.some((q) => /\d\.\d/.test(String(q)))) fractional++;
        if (c.livenessProbe || c.readinessProbe) probes++;
        if (c.securityContext) securityContexts++;
        // The hash engine accepts every container spec for v1.10 and v1.17.
        expect(containerHash(c, '1.10').label).toMatch(/^[0-9a-f]+$/);
        expect(containerHash(c, '1.17').label).toMatch(/^[0-9a-f]+$/);
      }
    }
    expect(fractional).toBeGreaterThan(3);
    expect(probes).toBeGreaterThan(5);
    expect(securityContexts).toBeGreaterThan(3);
  });

  it('has exactly one nodeSelector pod, on the first worker, and a small profile for tests', () => {
    const selectors = full.pods.filter((p) => p.spec?.nodeSelector);
    expect(selectors.map((p) => [p.metadata?.namespace, p.metadata?.name, p.spec?.nodeName, p.spec?.nodeSelector])).toEqual([
      [SELECTOR_POD.namespace, SELECTOR_POD.name, 'worker-1', { [SELECTOR_LABEL.key]: SELECTOR_LABEL.value }],
    ]);
    const small = workloadPlan(['a', 'b'], 'small');
    expect(small.pods.length).toBeLessThan(full.pods.length);
    expect(small.pods.some((p) => p.metadata?.name === SELECTOR_POD.name)).toBe(true);
    expect(() => workloadPlan([], 'small')).toThrow(/at least one worker/);
  });

  it('is deterministic', () => {
    expect(JSON.stringify(workloadPlan(workers, 'full'))).toBe(JSON.stringify(full));
  });
});

describe('node files', () => {
  it('the kubeadm-like drop-in + /etc/default/kubelet make a command line the v1.10 lab kubelet accepts, with flags 1.12/1.15 remove', () => {
    // The command line as kip's agent resolves it from the unit, drop-in and environment file.
    const cmd = resolveKubeletCommandLine({
      units: [{ path: KUBELET_PATHS.unit, content: KUBELET_UNIT }, { path: KUBELET_PATHS.dropIn, content: kubeletDropIn() }],
      envFiles: { [KUBELET_PATHS.defaults]: kubeletDefaults({ nodeName: 'worker-1', address: '127.0.0.11', nodeLabels: { 'lab.kip.io/pool': 'workers' }, syncIntervalMs: 2000 }) },
    });
    expect(cmd.binary).toBe('/usr/bin/kubelet');
    expect(cmd.positional).toEqual([]);
    const argv = effectiveFlags(cmd).map((f) => (f.value === undefined ? f.flag : `${f.flag}=${f.value}`));
    expect(effectiveFlags(cmd).find((f) => f.flag === '--cadvisor-port')?.definedIn).toContain(KUBELET_PATHS.dropIn);
    const flags = parseKubeletArgs(argv, 'v1.10.13');
    expect(Object.fromEntries(flags)).toMatchObject({
      'hostname-override': 'worker-1', 'healthz-bind-address': '127.0.0.11', 'healthz-port': '10248', 'node-ip': '127.0.0.11', 'allow-privileged': 'true', 'cadvisor-port': '0',
      'container-runtime-endpoint': 'unix:///run/containerd/containerd.sock', kubeconfig: '/etc/kubernetes/kubelet.conf', 'node-labels': 'lab.kip.io/pool=workers',
    });
    expect(() => parseKubeletArgs(argv, 'v1.12.10')).toThrow(/cadvisor-port/);
    expect(() => parseKubeletArgs(argv.filter((a) => !a.startsWith('--cadvisor-port')), 'v1.15.12')).toThrow(/allow-privileged/);
    // A lab brought up at a later version gets the drop-in that version's kubelet accepts.
    for (const version of ['v1.12.10', 'v1.13.12', 'v1.15.12', 'v1.17.17']) {
      const later = resolveKubeletCommandLine({ units: [{ path: KUBELET_PATHS.unit, content: KUBELET_UNIT }, { path: KUBELET_PATHS.dropIn, content: kubeletDropIn(version) }], envFiles: {} });
      expect(() => parseKubeletArgs(effectiveFlags(later).map((f) => (f.value === undefined ? f.flag : `${f.flag}=${f.value}`)), version), version).not.toThrow();
    }
    expect(KUBELET_UNIT).toContain('ExecStart=/usr/bin/kubelet\n');
    expect(KUBELET_UNIT + kubeletDropIn()).not.toMatch(/PrivateTmp/);
  });

  it('binds every service to the node address', () => {
    expect(nodeAddresses('127.0.0', 3)).toEqual({ controlPlane: '127.0.0.10', workers: ['127.0.0.11', '127.0.0.12', '127.0.0.13'] });
    expect(() => nodeAddresses('10.0.0', 1)).toThrow(/127/);
    expect(() => nodeAddresses('127.0.0', 0)).toThrow(/1\.\.40/);
    expect(etcdUnit('127.0.0.10')).toContain('--listen-client-urls http://127.0.0.10:2379');
    expect(JSON.parse(apiserverConfig({ address: '127.0.0.10', gitVersion: 'v1.10.13', defaultTolerationSeconds: false }))).toMatchObject({ host: '127.0.0.10', port: 6443, etcd: 'http://127.0.0.10:2379', defaultTolerationSeconds: false });
    expect(agentConfig({ nodeName: 'worker-2', address: '127.0.0.12' })).toContain('listen: 127.0.0.12:7443\n');
    expect(agentConfig({ nodeName: 'worker-2', address: '127.0.0.12' })).toContain('healthzUrl: http://127.0.0.12:10248/healthz\n');
  });

  it('refuses values it cannot put into a unit safely', () => {
    expect(() => kubeletDefaults({ nodeName: 'a b', address: '127.0.0.11', nodeLabels: {}, syncIntervalMs: 2000 })).toThrow(/refuses/);
  });
});

function fakeIo(): CliIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    stdout: (s: string) => void (io.out += s),
    stderr: (s: string) => void (io.err += s),
    readInput: () => Promise.reject(new Error('no input')),
  };
  return io;
}

function fakeDeps(started: string[][]): LabCommandDeps {
  return {
    exec: () => Promise.reject(new Error('no exec in unit tests')),
    logger: silentLogger(),
    env: {},
    clock: { now: Date.now, sleep: () => Promise.resolve() },
    startSupervisor: (_dir, args) => {
      started.push([...args]);
      return 2 ** 22 + 12345; // no such pid: the "supervisor" is gone at once
    },
  };
}

describe('kip-lab (CLI)', () => {
  it('is its own entry (not a kip command) and validates its arguments', async () => {
    const io = fakeIo();
    expect(await main(['--help'], io)).toBe(0);
    expect(io.out).toContain('kip-lab up [--workers N]');
    const kip = fakeIo();
    expect(await kipMain(['lab', 'up'], kip)).toBe(2);
    expect(kip.err).toContain('unknown command "lab"');
    const bad = fakeIo();
    expect(await main(['up', '--workers', 'x'], bad)).toBe(2);
    expect(bad.err).toContain('--workers must be an integer');
    const badCp = fakeIo();
    expect(await main(['up', '--control-plane', 'pods'], badCp)).toBe(2);
    expect(badCp.err).toContain('--control-plane must be systemd or static-pods');
    const unknown = fakeIo();
    expect(await main(['sideways'], unknown)).toBe(2);
    expect(unknown.err).toContain('unknown subcommand');
  });

  it('up refuses while a lab is recorded in the state dir', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kip-lab-unit-'));
    dirs.push(dir);
    await writeFile(path.join(dir, 'lab.json'), JSON.stringify({ format: 1, status: 'up', stateDir: dir, supervisorPid: process.pid, nodes: [], options: {}, startedAt: '' }));
    const started: string[][] = [];
    const io = fakeIo();
    expect(await runLab(['up', '--state-dir', dir], io, fakeDeps(started))).toBe(1);
    expect(io.err).toContain(`a lab is already up in ${dir}`);
    expect(io.err).toContain('run `kip-lab down` first');
    expect(started).toEqual([]);
  });

  it('kubeconfig prints the recorded path, or fails without a lab', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kip-lab-unit-'));
    dirs.push(dir);
    const none = fakeIo();
    expect(await runLab(['kubeconfig', '--state-dir', dir], none, fakeDeps([]))).toBe(1);
    expect(none.err).toContain('no lab');
    const kc = path.join(dir, 'admin.kubeconfig');
    await writeFile(kc, 'apiVersion: v1\nkind: Config\n');
    await writeFile(path.join(dir, 'lab.json'), JSON.stringify({ format: 1, status: 'up', stateDir: dir, supervisorPid: 1, nodes: [], options: {}, startedAt: '', kubeconfig: kc }));
    const io = fakeIo();
    expect(await runLab(['kubeconfig', '--state-dir', dir], io, fakeDeps([]))).toBe(0);
    expect(io.out).toBe(`${kc}\n`);
    const raw = fakeIo();
    expect(await runLab(['kubeconfig', '--raw', '--state-dir', dir], raw, fakeDeps([]))).toBe(0);
    expect(raw.out).toContain('kind: Config');
  });

  it('up passes its options to the supervisor and reports a supervisor that died', async () => {
    const dir = path.join(await mkdtemp(path.join(tmpdir(), 'kip-lab-unit-')), 'state');
    dirs.push(path.dirname(dir));
    const started: string[][] = [];
    const io = fakeIo();
    const code = await runLab(['up', '--state-dir', dir, '--workers', '2', '--unpatched', '--workloads', 'small', '--address-prefix', '127.0.44'], io, {
      ...fakeDeps(started),
      // sweepLab after the failure needs only exec for umount (nothing is mounted): answer like a clean host.
      exec: (command, args) => Promise.resolve({ command, args, exitCode: 0, signal: undefined, stdout: '', stderr: '', timedOut: false, durationMs: 0 }),
    });
    expect(code).toBe(1);
    expect(started).toEqual([[
      '--state-dir', dir, '--workers', '2', '--version', 'v1.10.13', '--address-prefix', '127.0.44', '--workloads', 'small', '--sync-interval', '2000', '--hashes', 'engine', '--control-plane', 'systemd', '--programs', 'bundle', '--runtime', 'mixed', '--unpatched', '--agents', 'lab',
    ]]);
    expect(io.err).toContain('failed: the supervisor exited');
  });
});
