/**
 * kip's certificates, made with @peculiar/x509 over Node's WebCrypto (no openssl): ECDSA P-256,
 * a CA, agent server certificates (serverAuth, the node's DNS names and IPs as SANs) and client
 * certificates (clientAuth, the role as an OU: ./roles.ts).
 */
import './reflect-shim.ts';
import { webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';
import { InvalidInputError } from '../errors.ts';
import { roleOu, type ClientRole } from './roles.ts';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALG = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

export interface Pem {
  readonly cert: string;
  readonly key: string;
}

export type IssueSpec =
  | { readonly kind: 'agent'; readonly name: string; readonly ips: readonly string[]; readonly dns: readonly string[] }
  | { readonly kind: 'client'; readonly name: string; readonly role: ClientRole };

export interface Validity {
  /** Start of validity, ms since the epoch (a clock's now()). */
  readonly notBeforeMs: number;
  readonly days: number;
}

async function keyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key as webcrypto.CryptoKey));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
}

async function keys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
}

function serial(): string {
  // Positive 16-byte serial (RFC 5280 4.1.2.2: up to 20 octets, positive).
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0] = (b[0] ?? 0) & 0x7f;
  return Buffer.from(b).toString('hex');
}

/** CN must be a plain name: it ends up in a distinguished name string. */
function dnValue(what: string, v: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(v)) throw new InvalidInputError('PKI_BAD_NAME', `${what} ${JSON.stringify(v)}: use letters, digits, '.', '_' or '-' (at most 63)`, { value: v });
  return v;
}

export async function createCa(name: string, validity: Validity): Promise<Pem> {
  const kp = await keys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${dnValue('CA name', name)}, O=kip`,
    notBefore: new Date(validity.notBeforeMs),
    notAfter: new Date(validity.notBeforeMs + validity.days * DAY_MS),
    keys: kp,
    signingAlgorithm: SIGN,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(kp.publicKey),
    ],
  });
  return { cert: cert.toString('pem') + '\n', key: await keyPem(kp.privateKey) };
}

export async function issue(ca: Pem, spec: IssueSpec, validity: Validity): Promise<Pem> {
  const caCert = new x509.X509Certificate(ca.cert);
  const caKey = await webcrypto.subtle.importKey('pkcs8', Buffer.from(ca.key.replace(/-----[^-]+-----|\s/g, ''), 'base64'), ALG, false, ['sign']);
  const kp = await keys();
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
    await x509.SubjectKeyIdentifierExtension.create(kp.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(caCert),
  ];
  let subject: string;
  if (spec.kind === 'agent') {
    for (const ip of spec.ips) if (isIP(ip) === 0) throw new InvalidInputError('PKI_BAD_IP', `--ip ${JSON.stringify(ip)} is not an IP address`, { ip });
    for (const d of spec.dns) if (!/^[A-Za-z0-9*]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(d)) throw new InvalidInputError('PKI_BAD_DNS', `--dns ${JSON.stringify(d)} is not a DNS name`, { dns: d });
    if (spec.ips.length + spec.dns.length === 0) throw new InvalidInputError('PKI_NO_SAN', 'an agent certificate needs at least one --ip or --dns: the coordinator verifies the name it dials', {});
    subject = `CN=${dnValue('node name', spec.name)}, OU=${roleOu('agent')}, O=kip`;
    extensions.push(new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]));
    extensions.push(new x509.SubjectAlternativeNameExtension([...spec.dns.map((value) => ({ type: 'dns' as const, value })), ...spec.ips.map((value) => ({ type: 'ip' as const, value }))]));
  } else {
    subject = `CN=${dnValue(`${spec.role} name`, spec.name)}, OU=${roleOu(spec.role)}, O=kip`;
    extensions.push(new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]));
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject,
    issuer: caCert.subject,
    notBefore: new Date(validity.notBeforeMs),
    notAfter: new Date(validity.notBeforeMs + validity.days * DAY_MS),
    signingKey: caKey as unknown as CryptoKey,
    publicKey: kp.publicKey,
    signingAlgorithm: SIGN,
    extensions,
  });
  return { cert: cert.toString('pem') + '\n', key: await keyPem(kp.privateKey) };
}
