import { describe, expect, it } from 'vitest';
import { autoRuntime, detectRuntime, flagValue, runtimeFromConfig, type DetectedRuntime, type OpenedReader } from '../../agent/runtime/index.ts';
import type { RuntimeReader } from '../../agent/runtime/types.ts';
import { silentLogger } from '../../lib/logger.ts';

describe('runtime detection from the kubelet command line', () => {
  it('defaults to dockershim on dockerd (v1.10..v1.23 defaults)', () => {
    expect(detectRuntime({ argv: ['/usr/bin/kubelet', '--kubeconfig=/etc/kubernetes/kubelet.conf'] })).toMatchObject({ kind: 'docker', endpoint: 'unix:///var/run/docker.sock' });
    expect(detectRuntime({ argv: ['kubelet', '--container-runtime', 'docker', '--docker-endpoint', 'unix:///run/d.sock'] })).toMatchObject({ kind: 'docker', endpoint: 'unix:///run/d.sock', source: '--docker-endpoint' });
  });

  it('reads a remote runtime from the flag, then from the config file; the flag wins', () => {
    const argv = ['kubelet', '--container-runtime=remote', '--container-runtime-endpoint=unix:///run/containerd/containerd.sock'];
    expect(detectRuntime({ argv })).toEqual({ kind: 'cri', endpoint: 'unix:///run/containerd/containerd.sock', source: '--container-runtime-endpoint' });
    const config = 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncontainerRuntimeEndpoint: unix:///run/crio/crio.sock\n';
    expect(detectRuntime({ argv: ['kubelet', '--config=/var/lib/kubelet/config.yaml'], kubeletConfig: config, kubeletMinor: 27 })).toMatchObject({ kind: 'cri', endpoint: 'unix:///run/crio/crio.sock' });
    expect(detectRuntime({ argv: [...argv, '--config', '/c'], kubeletConfig: config })).toMatchObject({ endpoint: 'unix:///run/containerd/containerd.sock' });
  });

  it('takes the last occurrence of a flag, as pflag does', () => {
    expect(flagValue(['k', '--docker-endpoint=a', '--docker-endpoint', 'b'], 'docker-endpoint')).toBe('b');
    expect(flagValue(['k', '--container-runtime-endpoint-x=a'], 'container-runtime-endpoint')).toBeUndefined();
  });

  it('refuses what it cannot read, with the fix', () => {
    expect(() => detectRuntime({ argv: ['kubelet', '--container-runtime=rkt'] })).toThrow(/"rkt"/);
    expect(() => detectRuntime({ argv: ['kubelet', '--container-runtime=remote'] })).toThrow(expect.objectContaining({ code: 'RUNTIME_UNDETECTED' }));
    expect(() => detectRuntime({ argv: ['kubelet', '--container-runtime=docker'], kubeletMinor: 24 })).toThrow(/dockershim was removed in v1.24/);
    // 1.24+: no dockershim, so no flag means a remote runtime, which must name its endpoint
    expect(() => detectRuntime({ argv: ['kubelet'], kubeletMinor: 25 })).toThrow(/names no endpoint/);
  });

  it('parses the agent config value', () => {
    expect(runtimeFromConfig('auto')).toBeUndefined();
    expect(runtimeFromConfig('docker:unix:///var/run/docker.sock')).toMatchObject({ kind: 'docker', endpoint: 'unix:///var/run/docker.sock' });
    expect(runtimeFromConfig('unix:///run/containerd/containerd.sock')).toMatchObject({ kind: 'cri' });
  });
});

describe('autoRuntime', () => {
  function fakeOpen(log: string[]) {
    return (rt: DetectedRuntime): OpenedReader => {
      log.push(`open ${rt.kind} ${rt.endpoint}`);
      const reader: RuntimeReader = {
        version: async () => ({ criApi: 'v1', runtimeName: rt.kind, runtimeVersion: '1', runtimeApiVersion: '1' }),
        listContainers: async () => [],
        listPodSandboxes: async () => [],
        containerStatus: async () => { throw new Error('none'); },
      };
      return { reader, close: () => log.push(`close ${rt.kind}`) };
    };
  }

  it('follows the kubelet\'s command line, reopening when it changes, and fails while the kubelet is down', async () => {
    const log: string[] = [];
    let argv: string[] | undefined = ['kubelet'];
    const rt = autoRuntime({ kubeletArgv: async () => argv, readText: async () => undefined, open: fakeOpen(log), logger: silentLogger() });
    expect((await rt.version()).runtimeName).toBe('docker');
    await rt.listContainers();
    argv = ['kubelet', '--container-runtime=remote', '--container-runtime-endpoint=unix:///run/containerd/containerd.sock'];
    expect((await rt.current()).kind).toBe('cri');
    argv = undefined;
    await expect(rt.listContainers()).rejects.toMatchObject({ code: 'RUNTIME_UNDETECTED' });
    rt.close();
    expect(log).toEqual(['open docker unix:///var/run/docker.sock', 'close docker', 'open cri unix:///run/containerd/containerd.sock', 'close cri']);
  });

  it('reads the --config file the kubelet names', async () => {
    const read: string[] = [];
    const rt = autoRuntime({
      kubeletArgv: async () => ['kubelet', '--config=/var/lib/kubelet/config.yaml'],
      kubeletMinor: async () => 28,
      readText: async (p) => { read.push(p); return 'containerRuntimeEndpoint: "unix:///run/containerd/containerd.sock"\n'; },
      open: fakeOpen([]),
      logger: silentLogger(),
    });
    expect(await rt.current()).toMatchObject({ kind: 'cri', endpoint: 'unix:///run/containerd/containerd.sock', source: 'kubelet config containerRuntimeEndpoint' });
    expect(read).toEqual(['/var/lib/kubelet/config.yaml']);
  });
});
