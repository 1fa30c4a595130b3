/**
 * Raw JSON REST access to the Kubernetes API, so container specs reach the hash engine
 * byte for byte as the apiserver serves them (a typed client model would drop fields it does not
 * know). Credentials and TLS come from a kubeconfig read by ./kubeconfig.ts (not client-node: the
 * agent's only Kubernetes access is this file, and client-node would cost it +67 MiB of RSS).
 */
import { request, type RequestOptions } from 'node:https';
import { KipError } from '../errors.ts';
import { loadKubeconfig } from './kubeconfig.ts';
import { hot } from '../optimizer.ts';
import { parseJson, type JsonNode } from '../knowledge/hash/index.ts';

export class RawKubeApiError extends KipError {
  constructor(readonly status: number, method: string, path: string, body: string) {
    super('KUBE_RAW_HTTP_ERROR', `${method} ${path}: HTTP ${status}: ${body.slice(0, 300)}`, { status, method, path });
  }
}

export interface RawResponse {
  readonly status: number;
  readonly text: string;
}

export interface KubeRest {
  /** GET returning both the parsed JSON (plain objects) and the exact node tree. */
  get(path: string): Promise<{ value: unknown; node: JsonNode }>;
  send(method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown, contentType?: string): Promise<unknown>;
  /** GET answering with the status and text whatever they are (health endpoints answer plain text). */
  probe(path: string): Promise<RawResponse>;
}

/**
 * `serverOverride` (https://host:port) reaches one apiserver of an HA control plane directly with
 * the kubeconfig's credentials; its certificate is checked for the kubeconfig server's name
 * (tls-server-name when set), which every apiserver of the cluster serves.
 */
export async function kubeRestFromKubeconfig(kubeconfigPath: string, timeoutMs = 10_000, context?: string, serverOverride?: string): Promise<KubeRest> {
  const kc = await loadKubeconfig(kubeconfigPath, context);
  const server = serverOverride ? new URL(serverOverride) : kc.server;
  const nameOf = (host: string): string | undefined => (/^[\d.]+$|:/.test(host) ? undefined : host);
  const serverName = kc.serverName ?? (serverOverride ? nameOf(kc.server.hostname) : undefined);
  if (server.protocol !== 'https:') throw new KipError('KUBE_RAW_CONFIG', `kubeconfig ${kubeconfigPath}: server ${server.href} is not https`, { kubeconfig: kubeconfigPath });

  const call = async (method: string, path: string, body?: string, contentType?: string): Promise<RawResponse> => {
    const opts: RequestOptions = {
      method,
      host: server.hostname,
      port: server.port || 443,
      path,
      headers: {
        accept: 'application/json',
        ...(body !== undefined ? { 'content-type': contentType ?? 'application/json' } : {}),
        ...(kc.token ? { authorization: `Bearer ${kc.token}` } : {}),
      },
      timeout: timeoutMs,
      rejectUnauthorized: !kc.insecureSkipTlsVerify,
      ...(kc.ca ? { ca: kc.ca } : {}),
      ...(kc.cert && kc.key ? { cert: kc.cert, key: kc.key } : {}),
      ...(serverName ? { servername: serverName } : {}),
    };
    return new Promise((resolve, reject) => {
      const req = request(opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new KipError('KUBE_RAW_TIMEOUT', `${method} ${path}: no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  };

  return {
    get: async (path) => {
      const r = await call('GET', path);
      if (r.status !== 200) throw new RawKubeApiError(r.status, 'GET', path, r.text);
      return { value: JSON.parse(r.text) as unknown, node: hot(() => parseJson(r.text, path)) };
    },
    send: async (method, path, body, contentType) => {
      const r = await call(method, path, body === undefined ? undefined : JSON.stringify(body), contentType);
      if (r.status < 200 || r.status >= 300) throw new RawKubeApiError(r.status, method, path, r.text);
      return r.text ? (JSON.parse(r.text) as unknown) : undefined;
    },
    probe: (path) => call('GET', path),
  };
}

/** The path of the pods bound to one node, as the kubelet itself lists them. */
export function nodePodsPath(nodeName: string): string {
  return `/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${nodeName}`)}`;
}

/**
 * The raw PodList of the pods bound to `nodeName`, byte for byte as the apiserver serves it (the
 * hash engine needs the exact JSON), with its plain-object parse.
 */
export async function listNodePods(rest: KubeRest, nodeName: string): Promise<{ value: unknown; node: JsonNode }> {
  return rest.get(nodePodsPath(nodeName));
}
