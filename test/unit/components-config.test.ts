import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG_FILE, loadAgentConfig } from '../../agent/config.ts';
import { parseComponentSpec } from '../../agent/components/index.ts';

describe('components config', () => {
  it('parses unit and manifest entries, with an optional health URL', () => {
    expect(parseComponentSpec('kube-scheduler=unit:kube-scheduler.service:/usr/local/bin/kube-scheduler')).toEqual({ name: 'kube-scheduler', unit: 'kube-scheduler.service', binary: '/usr/local/bin/kube-scheduler' });
    expect(parseComponentSpec('kube-apiserver=manifest:/etc/kubernetes/manifests/kube-apiserver.yaml@https://127.0.0.1:6443/readyz')).toEqual({
      name: 'kube-apiserver',
      manifest: '/etc/kubernetes/manifests/kube-apiserver.yaml',
      healthUrl: 'https://127.0.0.1:6443/readyz',
      insecureSkipVerify: true,
    });
  });

  it.each([
    ['kube-dns=unit:kube-dns.service:/usr/bin/kube-dns', /does not start with a component name/],
    ['kube-scheduler=unit:kube-scheduler:/usr/bin/kube-scheduler', /write kube-scheduler=unit:/],
    ['kube-scheduler=manifest:relative.yaml', /write kube-scheduler=unit:/],
    ['kube-scheduler=manifest:/m.yaml@ftp://x/', /not an http\(s\) URL/],
  ])('refuses %s', (spec, re) => {
    expect(() => parseComponentSpec(spec)).toThrow(re);
  });

  it('reaches the agent config from the file, env and flags, and names the option when wrong', async () => {
    const file = 'components:\n  - kube-scheduler=unit:kube-scheduler.service:/usr/bin/kube-scheduler\netcdEndpoints: [https://127.0.0.1:2379]\n';
    const c = await loadAgentConfig({ argv: [], env: {}, readFile: async (p) => (p === DEFAULT_CONFIG_FILE ? file : undefined) });
    expect(c.components).toEqual(['kube-scheduler=unit:kube-scheduler.service:/usr/bin/kube-scheduler']);
    expect(c.etcdEndpoints).toEqual(['https://127.0.0.1:2379']);
    const e = await loadAgentConfig({ argv: ['--etcd-endpoints=https://10.0.0.1:2379,https://10.0.0.2:2379'], env: { KIP_AGENT_COMPONENTS: 'kube-proxy=manifest:/etc/kubernetes/manifests/kube-proxy.yaml' }, readFile: async () => undefined });
    expect(e.etcdEndpoints).toEqual(['https://10.0.0.1:2379', 'https://10.0.0.2:2379']);
    expect(e.components).toEqual(['kube-proxy=manifest:/etc/kubernetes/manifests/kube-proxy.yaml']);
    await expect(loadAgentConfig({ argv: ['--etcd-endpoints=10.0.0.1:2379'], env: {}, readFile: async () => undefined })).rejects.toThrow(/option etcdEndpoints .*not an http\(s\) URL/);
    await expect(loadAgentConfig({ argv: ['--components=kube-dns=manifest:/x.yaml'], env: {}, readFile: async () => undefined })).rejects.toThrow(/option components .*does not start with a component name/);
  });
});
