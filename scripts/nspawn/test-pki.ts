/** A throw-away PKI for agent tests, made with the openssl CLI through lib/exec.ts. */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execaExec } from '../../lib/exec.ts';

async function openssl(args: string[], cwd: string): Promise<void> {
  const r = await execaExec('openssl', args, { timeoutMs: 30_000, cwd });
  if (r.exitCode !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
}

export interface Pem {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

export interface TestPki {
  readonly dir: string;
  readonly caCert: Buffer;
  readonly server: Pem;
  readonly client: Pem;
  /** Paths of the server's files, for a config file. */
  readonly serverFiles: { ca: string; cert: string; key: string };
  /** A client certificate from ANOTHER CA: the agent must refuse it. */
  readonly rogueClient: Pem;
}

async function makeCa(dir: string, name: string): Promise<void> {
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-subj', `/CN=${name}`, '-days', '2'], dir);
}

async function issue(dir: string, ca: string, name: string, cn: string, ext: string): Promise<void> {
  await writeFile(path.join(dir, `${name}.ext`), `${ext}\n`);
  await openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', cn.startsWith('/') ? cn : `/CN=${cn}`], dir);
  await openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`], dir);
}

export async function makeTestPki(dir: string, serverNames: { ips?: string[]; dns?: string[] } = {}): Promise<TestPki> {
  await mkdir(dir, { recursive: true });
  await makeCa(dir, 'ca');
  await makeCa(dir, 'rogue-ca');
  const san = [...(serverNames.ips ?? ['127.0.0.1']).map((i) => `IP:${i}`), ...(serverNames.dns ?? ['localhost']).map((d) => `DNS:${d}`)].join(',');
  await issue(dir, 'ca', 'agent', 'kip-agent', `subjectAltName=${san}\nextendedKeyUsage=serverAuth`);
  // The coordinator role (lib/pki/roles.ts) is an OU: without it the agent treats a client as a viewer.
  await issue(dir, 'ca', 'client', '/OU=kip-role:coordinator/CN=kip-coordinator', 'extendedKeyUsage=clientAuth');
  await issue(dir, 'rogue-ca', 'rogue', '/OU=kip-role:coordinator/CN=kip-coordinator', 'extendedKeyUsage=clientAuth');
  const r = (f: string) => readFile(path.join(dir, f));
  const caCert = await r('ca.crt');
  return {
    dir,
    caCert,
    server: { ca: caCert, cert: await r('agent.crt'), key: await r('agent.key') },
    client: { ca: caCert, cert: await r('client.crt'), key: await r('client.key') },
    serverFiles: { ca: path.join(dir, 'ca.crt'), cert: path.join(dir, 'agent.crt'), key: path.join(dir, 'agent.key') },
    rogueClient: { ca: caCert, cert: await r('rogue.crt'), key: await r('rogue.key') },
  };
}
