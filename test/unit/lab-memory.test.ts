/** scripts/lab/memory.ts: who owns a lab node's process, and the one-line breakdown the lab prints. */
import { describe, expect, it } from 'vitest';
import { formatBreakdown, ownerOf } from '../../scripts/lab/memory.ts';

describe('lab memory by owner', () => {
  it('tells kip-agent, the lab programs, the runtimes, etcd and the node OS apart by command line', () => {
    expect(ownerOf(['/usr/local/bin/kip-agent', '--config', '/etc/kip/agent.yaml'])).toBe('agent');
    expect(ownerOf(['/usr/bin/node', '--max-semi-space-size=2', '/repo/dist/lab/kip-agent.mjs', '--config', '/etc/kip/agent.yaml'])).toBe('agent');
    expect(ownerOf(['/usr/bin/node', '--max-semi-space-size=2', '/repo/dist/lab/kubelet.mjs', '--lab-kube-version=v1.10.13'])).toBe('lab');
    expect(ownerOf(['/bin/sh', '/usr/bin/kube-apiserver', '--config', '/etc/kubernetes/apiserver.json'])).toBe('lab');
    expect(ownerOf(['/bin/sh', '/usr/bin/kubelet', '--kubeconfig=/etc/kubernetes/kubelet.conf'])).toBe('lab');
    expect(ownerOf(['/usr/bin/containerd-shim-runc-v2', '-namespace', 'k8s.io', '-id', 'x'])).toBe('runtime');
    expect(ownerOf(['containerd', '--config', '/var/lib/kip-lab/containerd/worker-2/config.toml'])).toBe('runtime');
    expect(ownerOf(['dockerd', '--config-file', '/x/daemon.json'])).toBe('runtime');
    expect(ownerOf(['/usr/bin/etcd', '--name', 'kip-lab'])).toBe('etcd');
    expect(ownerOf(['/lib/systemd/systemd-journald'])).toBe('os');
    expect(ownerOf(['/bin/sleep', '2147483647'])).toBe('os');
  });

  it('prints totals and each owner as RSS/PSS MiB, with the process count', () => {
    const m = (rss: number, pss: number, processes: number) => ({ rssBytes: rss * 2 ** 20, pssBytes: pss * 2 ** 20, processes });
    expect(formatBreakdown({ agent: m(80, 76, 2), lab: m(130, 50, 4), runtime: m(140, 40, 8), etcd: m(0, 0, 0), containers: m(20, 2, 14), os: m(40, 10, 6) }))
      .toBe('RSS 410 / PSS 178 MiB: agent 80/76 (2), lab 130/50 (4), runtime 140/40 (8), containers 20/2 (14), os 40/10 (6)');
  });
});
