/**
 * A throw-away PKI for the lab and for tests: one CA, one server certificate (with the SANs the
 * apiserver is reached by) and any number of client certificates (CN = user, O = groups), made with
 * the openssl CLI through the Exec port. EC P-256 keys: fast to make, accepted by Node and Go.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KipError } from '../../lib/errors.ts';
import type { Exec } from '../../lib/exec.ts';

export class PkiError extends KipError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('LAB_PKI_FAILED', message, details);
  }
}

export interface CertPair {
  readonly cert: string;
  readonly key: string;
}

export interface ClientCertRequest {
  /** File name stem, e.g. "admin". */
  readonly name: string;
  /** Becomes the Kubernetes user name. */
  readonly commonName: string;
  /** Become the Kubernetes groups. */
  readonly organizations?: readonly string[];
  /** OU values (kip-agent reads the caller's role from one: lib/pki/roles.ts). */
  readonly organizationalUnits?: readonly string[];
}

export interface LabPki {
  readonly dir: string;
  readonly ca: CertPair;
  readonly server: CertPair;
  readonly clients: Readonly<Record<string, CertPair>>;
}

export interface LabPkiOptions {
  readonly exec: Exec;
  readonly dir: string;
  /** Host names and IP addresses the server certificate is valid for. */
  readonly serverNames?: readonly string[];
  readonly clients?: readonly ClientCertRequest[];
  readonly days?: number;
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

async function openssl(exec: Exec, args: readonly string[]): Promise<void> {
  const r = await exec('openssl', args, { timeoutMs: 30_000 });
  if (r.exitCode !== 0) {
    throw new PkiError(`openssl ${args[0] ?? ''} failed: ${r.stderr.trim()}`, { args, exitCode: r.exitCode, signal: r.signal });
  }
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function subject(cn: string, orgs: readonly string[] = [], units: readonly string[] = []): string {
  for (const part of [cn, ...orgs, ...units]) {
    if (/[/=,\n]/.test(part)) throw new PkiError(`subject part must not contain / = , or newline: ${part}`, { part });
  }
  return orgs.map((o) => `/O=${o}`).join('') + units.map((u) => `/OU=${u}`).join('') + `/CN=${cn}`;
}

async function signed(exec: Exec, dir: string, stem: string, subj: string, ext: string, ca: CertPair, days: number): Promise<CertPair> {
  const key = join(dir, `${stem}.key`);
  const csr = join(dir, `${stem}.csr`);
  const cert = join(dir, `${stem}.crt`);
  const extFile = join(dir, `${stem}.ext`);
  await writeFile(extFile, ext);
  await openssl(exec, ['req', ...EC_KEY, '-keyout', key, '-out', csr, '-subj', subj]);
  await openssl(exec, [
    'x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', '0x' + randomBytes(12).toString('hex'),
    '-days', String(days), '-sha256', '-extfile', extFile, '-out', cert,
  ]);
  return { cert, key };
}

export async function generateLabPki(options: LabPkiOptions): Promise<LabPki> {
  const { exec, dir } = options;
  const days = options.days ?? 365;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const ca: CertPair = { cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') };
  await openssl(exec, ['req', '-x509', ...EC_KEY, '-keyout', ca.key, '-out', ca.cert, '-days', String(days * 10), '-sha256', '-subj', '/CN=kip-lab-ca']);
  const names = options.serverNames ?? ['localhost', '127.0.0.1'];
  const san = names.map((n) => (IPV4.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
  const server = await signed(exec, dir, 'server', subject('kube-apiserver'),
    `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`, ca, days);
  const clients: Record<string, CertPair> = {};
  for (const c of options.clients ?? []) {
    if (!/^[a-z0-9-]+$/.test(c.name)) throw new PkiError(`client name must be [a-z0-9-]+: ${c.name}`, { name: c.name });
    clients[c.name] = await signed(exec, dir, `client-${c.name}`, subject(c.commonName, c.organizations, c.organizationalUnits),
      'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n', ca, days);
  }
  return { dir, ca, server, clients };
}
