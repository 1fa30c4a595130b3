import { describe, expect, it } from 'vitest';
import { kubeconfigServer, loadKubeconfig, KubeconfigError } from '../../lib/kube/kubeconfig.ts';

function files(map: Record<string, string>): (p: string) => Promise<Buffer> {
  return async (p) => {
    const v = map[p];
    if (v === undefined) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
    return Buffer.from(v);
  };
}

const doc = (user: string, cluster = 'server: https://10.0.0.1:6443\n    certificate-authority: pki/ca.crt') => `apiVersion: v1
kind: Config
current-context: c
contexts:
- name: c
  context: {cluster: k, user: u}
clusters:
- name: k
  cluster:
    ${cluster}
users:
- name: u
  user:
    ${user}
`;

describe('kubeconfig reader (the agent has no client-node)', () => {
  it('reads the current context, resolving files against the kubeconfig directory', async () => {
    const kc = await loadKubeconfig('/etc/kubernetes/kubelet.conf', undefined, files({
      '/etc/kubernetes/kubelet.conf': doc('client-certificate: /var/lib/kubelet/pki/c.pem\n    client-key: /var/lib/kubelet/pki/c.pem'),
      '/etc/kubernetes/pki/ca.crt': 'CA',
      '/var/lib/kubelet/pki/c.pem': 'PEM',
    }));
    expect(kc.server.href).toBe('https://10.0.0.1:6443/');
    expect(kc.ca?.toString()).toBe('CA');
    expect(kc.cert?.toString()).toBe('PEM');
    expect(kc.key?.toString()).toBe('PEM');
    expect(kc.insecureSkipTlsVerify).toBe(false);
  });

  it('takes embedded data and a token', async () => {
    const kc = await loadKubeconfig('/k', undefined, files({ '/k': doc('token: abc', `server: https://h:1\n    certificate-authority-data: ${Buffer.from('CA2').toString('base64')}`) }));
    expect(kc.ca?.toString()).toBe('CA2');
    expect(kc.token).toBe('abc');
  });

  it('refuses exec plugins and half client pairs by name', async () => {
    await expect(loadKubeconfig('/k', undefined, files({ '/k': doc('exec: {command: aws}') }))).rejects.toThrow(/user field exec is not supported/);
    await expect(loadKubeconfig('/k', undefined, files({ '/k': doc('client-certificate-data: QQ==') , '/pki/ca.crt': 'x' }))).rejects.toThrow(KubeconfigError);
    await expect(loadKubeconfig('/missing', undefined, files({}))).rejects.toThrow(/kubeconfig \/missing: cannot be read/);
    await expect(loadKubeconfig('/k', undefined, files({ '/k': doc('token: t') }))).rejects.toThrow(/certificate-authority \/pki\/ca.crt cannot be read/);
  });

  it('uses the context named with --context over current-context, and refuses an unknown one', async () => {
    const two = `${doc('token: t', 'server: https://h:1\n    insecure-skip-tls-verify: true')}`.replace('contexts:\n', 'contexts:\n- name: other\n  context: {cluster: k2, user: u}\n').replace('clusters:\n', 'clusters:\n- name: k2\n  cluster:\n    server: https://other:2\n');
    expect((await loadKubeconfig('/k', undefined, files({ '/k': two }))).server.host).toBe('h:1');
    expect((await loadKubeconfig('/k', 'other', files({ '/k': two }))).server.host).toBe('other:2');
    await expect(loadKubeconfig('/k', 'nope', files({ '/k': two }))).rejects.toThrow(/context nope is not defined/);
  });

  it('kubeconfigServer: only the current cluster server, even for a user the agent cannot authenticate as (the connection counter)', async () => {
    const exec = doc('exec: {command: aws}');
    expect((await kubeconfigServer('/k', files({ '/k': exec })))?.href).toBe('https://10.0.0.1:6443/');
    expect(await kubeconfigServer('/k', files({ '/k': 'apiVersion: v1\nkind: Config\ncurrent-context: none\n' }))).toBeUndefined();
    await expect(kubeconfigServer('/k', files({ '/k': doc('token: t', 'server: "not a url"') }))).rejects.toThrow(KubeconfigError);
    await expect(kubeconfigServer('/missing', files({}))).rejects.toThrow(/cannot be read or parsed/);
  });
});
