/**
 * A reachability and TLS check of an etcd client URL before `etcdctl snapshot save`, because
 * etcdctl reports a refused client certificate, a wrong CA and an etcd that is down all as
 * "context deadline exceeded" after its command timeout. Node's TCP and TLS sockets say which it
 * is, with error codes: connection refused / timeout -> unreachable; a handshake the server
 * aborts (our client certificate refused) or a server certificate we cannot verify -> TLS. Over
 * TLS the probe sends the HTTP/2 connection preface and waits for the server's first frame,
 * because under TLS 1.3 the server judges the client certificate only after the client's
 * handshake is done.
 */
import { readFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { EtcdSnapshotError, EtcdTargetInvalidError } from './errors.ts';

export interface EtcdTlsFiles {
  readonly cacert: string;
  readonly cert: string;
  readonly key: string;
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
/** An empty HTTP/2 SETTINGS frame: the client's half of the preface. */
const SETTINGS = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);

function errCode(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT']);

export async function probeEtcd(endpoint: string, tls: EtcdTlsFiles | undefined, timeoutMs = 5_000): Promise<void> {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new EtcdTargetInvalidError(`etcd endpoint ${JSON.stringify(endpoint)} is not a URL (e.g. https://127.0.0.1:2379)`, { endpoint });
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || 2379);
  if (url.protocol === 'https:' && tls === undefined) throw new EtcdTargetInvalidError(`etcd endpoint ${endpoint} is https: give the client cacert, cert and key`, { endpoint });
  const unreachable = (why: string) => new EtcdSnapshotError('ETCD_SNAPSHOT_UNREACHABLE', `etcd at ${endpoint} did not answer (${why}): is it running, and is the endpoint right?`, { endpoint, why });
  const tlsFail = (why: string) => new EtcdSnapshotError('ETCD_SNAPSHOT_TLS', `etcd at ${endpoint} and the agent do not accept each other's certificates (${why}): check the agent's etcd cacert/cert/key`, { endpoint, why });

  if (url.protocol !== 'https:') {
    await new Promise<void>((resolve, reject) => {
      const s = netConnect({ host, port, timeout: timeoutMs });
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('timeout', () => {
        s.destroy();
        reject(unreachable(`no TCP connection within ${timeoutMs} ms`));
      });
      s.once('error', (e) => reject(unreachable(errCode(e) || e.message)));
    });
    return;
  }
  const [ca, cert, key] = await Promise.all([readFile(tls!.cacert), readFile(tls!.cert), readFile(tls!.key)]).catch((e: unknown) => {
    throw new EtcdTargetInvalidError(`cannot read the etcd client TLS files: ${e instanceof Error ? e.message : String(e)}`);
  });
  await new Promise<void>((resolve, reject) => {
    let secure = false;
    let done = false;
    const finish = (err?: EtcdSnapshotError) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      if (err) reject(err);
      else resolve();
    };
    const s: TLSSocket = tlsConnect({ host, port, ca, cert, key, ALPNProtocols: ['h2'], servername: /^[\d.]+$|:/.test(host) ? undefined : host });
    const timer = setTimeout(() => finish(secure ? tlsFail('the server sent nothing after the handshake') : unreachable(`no TLS handshake within ${timeoutMs} ms`)), timeoutMs);
    s.once('secureConnect', () => {
      secure = true;
      s.write(Buffer.concat([PREFACE, SETTINGS]));
    });
    s.once('data', () => finish());
    s.once('error', (e) => {
      const code = errCode(e);
      if (!secure && UNREACHABLE.has(code)) finish(unreachable(code));
      else finish(tlsFail(code || e.message));
    });
    s.once('close', () => finish(secure ? tlsFail('the server closed the connection after the handshake (client certificate refused?)') : unreachable('connection closed')));
  });
}
