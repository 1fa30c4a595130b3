/** Writes a kubeconfig file (one cluster, one user, one context) for kubectl and client-node. */
import { writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';

export interface KubeconfigSpec {
  readonly server: string;
  readonly caFile: string;
  /** Client certificate auth ... */
  readonly clientCertFile?: string;
  readonly clientKeyFile?: string;
  /** ... or a bearer token. */
  readonly token?: string;
  readonly name?: string;
}

export function kubeconfigYaml(spec: KubeconfigSpec): string {
  const name = spec.name ?? 'kip';
  const user: Record<string, string> = {};
  if (spec.clientCertFile) user['client-certificate'] = spec.clientCertFile;
  if (spec.clientKeyFile) user['client-key'] = spec.clientKeyFile;
  if (spec.token) user.token = spec.token;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server: spec.server, 'certificate-authority': spec.caFile } }],
    users: [{ name, user }],
    contexts: [{ name, context: { cluster: name, user: name } }],
    'current-context': name,
  });
}

export async function writeKubeconfig(path: string, spec: KubeconfigSpec): Promise<void> {
  await writeFile(path, kubeconfigYaml(spec), { mode: 0o600 });
}
