/**
 * A kubeconfig reader for the agent's few raw REST calls (lib/kube/raw.ts), so the agent does not
 * load @kubernetes/client-node (importing it costs +27 MiB of heap and +67 MiB of RSS on Node 20,
 * measured with process.memoryUsage() after gc; scripts/package/README.md). It understands what a kubelet's own kubeconfig uses: the current
 * context's cluster (server, certificate-authority[-data], insecure-skip-tls-verify,
 * tls-server-name) and user (client-certificate[-data], client-key[-data], token, tokenFile).
 * Relative file names are relative to the kubeconfig's directory, as kubectl resolves them.
 * Anything else (exec or auth-provider plugins, username/password) is refused by name.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { KipError } from '../errors.ts';

export interface KubeconfigTls {
  readonly server: URL;
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly token?: string;
  readonly insecureSkipTlsVerify: boolean;
  readonly serverName?: string;
}

export class KubeconfigError extends KipError {
  constructor(file: string, problem: string, fix: string) {
    super('KUBECONFIG_INVALID', `kubeconfig ${file}: ${problem}; ${fix}`, { file, problem });
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function named(list: unknown, name: string, key: string): Obj | undefined {
  if (!Array.isArray(list)) return undefined;
  for (const item of list) if (isObj(item) && item.name === name && isObj(item[key])) return item[key] as Obj;
  return undefined;
}

/**
 * Only the current context's cluster server (undefined when the context names none): what the
 * agent's connection counter needs to know which endpoints the kubelet dials. Unlike
 * loadKubeconfig it reads no credentials, so a user kip-agent could not authenticate as (exec
 * plugins) still has its connections counted.
 */
export async function kubeconfigServer(file: string, read: (p: string) => Promise<Buffer> = (p) => readFile(p)): Promise<URL | undefined> {
  const doc = await parseKubeconfig(file, read);
  const ctxName = doc['current-context'];
  const ctx = typeof ctxName === 'string' ? named(doc.contexts, ctxName, 'context') : undefined;
  const cluster = ctx && typeof ctx.cluster === 'string' ? named(doc.clusters, ctx.cluster, 'cluster') : undefined;
  if (!cluster || typeof cluster.server !== 'string' || cluster.server === '') return undefined;
  try {
    return new URL(cluster.server);
  } catch {
    throw new KubeconfigError(file, `server ${cluster.server} is not a URL`, 'use https://host:port');
  }
}

async function parseKubeconfig(file: string, read: (p: string) => Promise<Buffer>): Promise<Obj> {
  let doc: unknown;
  try {
    doc = parseYaml((await read(file)).toString('utf8'));
  } catch (err) {
    throw new KubeconfigError(file, `cannot be read or parsed (${err instanceof Error ? err.message : String(err)})`, 'point the agent at the kubelet kubeconfig, e.g. /etc/kubernetes/kubelet.conf');
  }
  if (!isObj(doc)) throw new KubeconfigError(file, 'is not a YAML mapping', 'point the agent at a kubeconfig file');
  return doc;
}

export async function loadKubeconfig(file: string, context?: string, read: (p: string) => Promise<Buffer> = (p) => readFile(p)): Promise<KubeconfigTls> {
  const doc = await parseKubeconfig(file, read);
  const ctxName = context || doc['current-context'];
  if (typeof ctxName !== 'string' || ctxName === '') throw new KubeconfigError(file, 'has no current-context', 'set current-context or pass --context');
  const ctx = named(doc.contexts, ctxName, 'context');
  if (!ctx) throw new KubeconfigError(file, `context ${ctxName} is not defined`, 'add it under contexts');
  const cluster = typeof ctx.cluster === 'string' ? named(doc.clusters, ctx.cluster, 'cluster') : undefined;
  if (!cluster || typeof cluster.server !== 'string') throw new KubeconfigError(file, `context ${ctxName} names no cluster with a server`, 'add the cluster and its server URL');
  const user = typeof ctx.user === 'string' ? (named(doc.users, ctx.user, 'user') ?? {}) : {};
  for (const unsupported of ['exec', 'auth-provider', 'username', 'password']) {
    if (unsupported in user) throw new KubeconfigError(file, `user field ${unsupported} is not supported by kip-agent`, 'use a client certificate or a token (the kubelet kubeconfig has one)');
  }
  const dir = path.dirname(file);
  const material = async (obj: Obj, dataKey: string, fileKey: string): Promise<Buffer | undefined> => {
    const data = obj[dataKey];
    if (typeof data === 'string' && data !== '') return Buffer.from(data, 'base64');
    const f = obj[fileKey];
    if (typeof f !== 'string' || f === '') return undefined;
    const p = path.resolve(dir, f);
    try {
      return await read(p);
    } catch (err) {
      throw new KubeconfigError(file, `${fileKey} ${p} cannot be read (${err instanceof Error ? err.message : String(err)})`, 'fix the path or embed the data');
    }
  };
  let server: URL;
  try {
    server = new URL(cluster.server);
  } catch {
    throw new KubeconfigError(file, `server ${cluster.server} is not a URL`, 'use https://host:port');
  }
  const ca = await material(cluster, 'certificate-authority-data', 'certificate-authority');
  const cert = await material(user, 'client-certificate-data', 'client-certificate');
  const key = await material(user, 'client-key-data', 'client-key');
  if ((cert === undefined) !== (key === undefined)) throw new KubeconfigError(file, 'has a client certificate without its key (or a key without its certificate)', 'give both');
  let token = typeof user.token === 'string' && user.token !== '' ? user.token : undefined;
  if (token === undefined && typeof user.tokenFile === 'string' && user.tokenFile !== '') token = (await read(path.resolve(dir, user.tokenFile))).toString('utf8').trim();
  return {
    server,
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    ...(token ? { token } : {}),
    insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] === true,
    ...(typeof cluster['tls-server-name'] === 'string' ? { serverName: cluster['tls-server-name'] } : {}),
  };
}
