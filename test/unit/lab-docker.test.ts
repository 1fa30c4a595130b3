/**
 * Docker workers in the lab, the pure parts: which worker gets which runtime, the dockershim
 * names and labels the lab kubelet's Docker backend writes (pkg/kubelet/dockershim naming.go,
 * helpers.go makeLabels, docker_service.go label keys), the Docker worker's kubelet command line
 * (accepted by the lab kubelet, detected as Docker by kip-agent from the command line alone), its
 * agent config, and the CLI's --runtime check.
 */
import { describe, expect, it } from 'vitest';
import { effectiveFlags, resolveKubeletCommandLine } from '../../agent/kubelet/index.ts';
import { detectRuntime } from '../../agent/runtime/detect.ts';
import { splitDockershimLabels, parseDockershimName } from '../../agent/runtime/docker.ts';
import { parseKubeletArgs } from '../../scripts/lab/kubelet/flags.ts';
import { agentConfig, kubeletDefaults, kubeletDropIn, KUBELET_PATHS, KUBELET_UNIT } from '../../scripts/lab/node-config.ts';
import { dockerCgroupParent, parseLabRuntime, workerRuntime } from '../../scripts/lab/docker-workers.ts';
import { containerCreateBody, containerName, makeLabels, sandboxCreateBody, sandboxName } from '../../scripts/lab/kubelet/dockershim.ts';
import { main } from '../../scripts/lab/cli.ts';
import type { CliIo } from '../../coordinator/io.ts';

const SANDBOX = { name: 'web-0', namespace: 'shop', uid: '5f1c-uid', attempt: 0, labels: { 'io.kubernetes.pod.name': 'web-0', 'io.kubernetes.pod.namespace': 'shop', 'io.kubernetes.pod.uid': '5f1c-uid' }, annotations: {}, hostNetwork: false };

describe('lab runtimes', () => {
  it('mixed puts worker-1 on dockerd and the others on containerd; docker and containerd put every worker there', () => {
    expect([0, 1, 2].map((i) => workerRuntime('mixed', i))).toEqual(['docker', 'containerd', 'containerd']);
    expect([0, 1, 2].map((i) => workerRuntime(undefined, i))).toEqual(['docker', 'containerd', 'containerd']);
    expect([0, 1].map((i) => workerRuntime('docker', i))).toEqual(['docker', 'docker']);
    expect([0, 1].map((i) => workerRuntime('containerd', i))).toEqual(['containerd', 'containerd']);
    expect(parseLabRuntime(undefined)).toBe('mixed');
    expect(() => parseLabRuntime('rkt')).toThrow(/--runtime must be one of docker, containerd, mixed, got rkt/);
  });

  it('gives each lab and worker its own dockerd cgroup parent', () => {
    expect(dockerCgroupParent('/var/lib/kip-lab', 'worker-1')).not.toBe(dockerCgroupParent('/var/lib/kip-lab-docker', 'worker-1'));
    expect(dockerCgroupParent('/var/lib/kip-lab', 'worker-1')).toMatch(/^kip-lab-docker-[0-9a-f]{8}-worker-1$/);
  });
});

describe('dockershim names and labels (lab kubelet Docker backend)', () => {
  it('names sandboxes and containers as naming.go does, and the agent parses them back', () => {
    expect(sandboxName(SANDBOX)).toBe('k8s_POD_web-0_shop_5f1c-uid_0');
    expect(containerName(SANDBOX, { name: 'app', attempt: 3 })).toBe('k8s_app_web-0_shop_5f1c-uid_3');
    expect(parseDockershimName(containerName(SANDBOX, { name: 'app', attempt: 3 }))).toEqual({ container: 'app', pod: 'web-0', namespace: 'shop', uid: '5f1c-uid', attempt: 3 });
  });

  it('stores annotations as "annotation." labels (makeLabels), which the agent splits back', () => {
    const labels = makeLabels({ 'io.kubernetes.container.name': 'app' }, { 'io.kubernetes.container.hash': 'c0ffee12', 'io.kubernetes.container.restartCount': '2' });
    expect(labels).toEqual({ 'io.kubernetes.container.name': 'app', 'annotation.io.kubernetes.container.hash': 'c0ffee12', 'annotation.io.kubernetes.container.restartCount': '2' });
    expect(splitDockershimLabels({ ...labels, 'io.kubernetes.docker.type': 'container', 'io.kubernetes.sandbox.id': 'abc' })).toEqual({
      labels: { 'io.kubernetes.container.name': 'app' },
      annotations: { 'io.kubernetes.container.hash': 'c0ffee12', 'io.kubernetes.container.restartCount': '2' },
    });
  });

  it('a sandbox is a "podsandbox" named POD on network none (host for hostNetwork); containers join it', () => {
    const sb = sandboxCreateBody(SANDBOX, 'kip.local/pause:1');
    expect(sb.Labels).toMatchObject({ 'io.kubernetes.docker.type': 'podsandbox', 'io.kubernetes.container.name': 'POD' });
    expect(sb.HostConfig.NetworkMode).toBe('none');
    expect(sandboxCreateBody({ ...SANDBOX, hostNetwork: true }, 'p').HostConfig.NetworkMode).toBe('host');
    const c = containerCreateBody('sbid', { name: 'app', attempt: 0, image: 'kip.local/busybox:1.35', command: ['sleep', '9'], annotations: { 'io.kubernetes.container.hash': 'c0ffee12' }, logPath: 'app/0.log' }, { ...SANDBOX, logDirectory: '/var/log/pods/x' });
    expect(c.Labels).toEqual({ 'io.kubernetes.docker.type': 'container', 'io.kubernetes.sandbox.id': 'sbid', 'io.kubernetes.container.logpath': '/var/log/pods/x/app/0.log', 'annotation.io.kubernetes.container.hash': 'c0ffee12' });
    expect(c.HostConfig).toEqual({ NetworkMode: 'container:sbid', IpcMode: 'container:sbid' });
    expect(c.Entrypoint).toEqual(['sleep', '9']);
  });
});

describe('Docker worker files', () => {
  it('the drop-in carries dockershim flags the lab kubelet accepts at every lab version, and kip-agent detects Docker from them', () => {
    for (const version of ['v1.10.13', 'v1.13.12', 'v1.17.17']) {
      const cmd = resolveKubeletCommandLine({
        units: [{ path: KUBELET_PATHS.unit, content: KUBELET_UNIT }, { path: KUBELET_PATHS.dropIn, content: kubeletDropIn(version, 'docker') }],
        envFiles: { [KUBELET_PATHS.defaults]: kubeletDefaults({ nodeName: 'worker-1', address: '127.0.3.11', nodeLabels: {}, syncIntervalMs: 2000, podNetwork: true }) },
      });
      const argv = effectiveFlags(cmd).map((f) => (f.value === undefined ? f.flag : `${f.flag}=${f.value}`));
      const flags = parseKubeletArgs(argv, version);
      expect(Object.fromEntries(flags), version).toMatchObject({ 'container-runtime': 'docker', 'docker-endpoint': 'unix:///var/run/docker.sock', 'pod-infra-container-image': 'kip.local/pause:1' });
      expect(flags.has('container-runtime-endpoint')).toBe(false);
      expect(detectRuntime({ argv: ['/usr/bin/kubelet', ...argv] })).toMatchObject({ kind: 'docker', endpoint: 'unix:///var/run/docker.sock', source: '--docker-endpoint' });
    }
    expect(kubeletDropIn('v1.10.13')).toContain('--container-runtime=remote --container-runtime-endpoint=unix:///run/containerd/containerd.sock');
  });

  it('the Docker worker\'s agent detects its runtime (criEndpoint auto); a containerd worker\'s names the socket', () => {
    expect(agentConfig({ nodeName: 'worker-1', address: '127.0.3.11', runtime: 'docker' })).toContain('criEndpoint: auto\n');
    expect(agentConfig({ nodeName: 'worker-2', address: '127.0.3.12' })).toContain('criEndpoint: unix:///run/containerd/containerd.sock\n');
  });

  it('kip-lab up refuses an unknown --runtime before starting anything', async () => {
    const io: CliIo & { err: string } = { err: '', stdout: () => undefined, stderr: (s: string) => void (io.err += s), readInput: () => Promise.reject(new Error('no input')) };
    expect(await main(['up', '--runtime', 'rkt', '--state-dir', '/nonexistent/kip-lab-x'], io)).toBe(2);
    expect(io.err).toContain('--runtime must be one of docker, containerd, mixed, got rkt');
  });
});
