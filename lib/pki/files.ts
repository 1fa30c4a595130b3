/**
 * Certificate files: written with the key 0600 (never readable by others, even for a moment:
 * the file is created with that mode), and read back with the checks that turn a broken setup
 * into one clear error naming the file and the fix: unreadable, key not matching its
 * certificate, certificate not signed by the CA.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { InvalidInputError, KipError } from '../errors.ts';
import type { Pem } from './x509.ts';

export class PkiFileError extends KipError {}

export async function writePem(dir: string, base: string, pem: Pem, options: { force?: boolean } = {}): Promise<{ cert: string; key: string }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const cert = path.join(dir, `${base}.crt`);
  const key = path.join(dir, `${base}.key`);
  if (!options.force) {
    for (const f of [cert, key]) {
      if (await stat(f).then(() => true, () => false)) throw new InvalidInputError('PKI_EXISTS', `${f} exists; remove it or pass --force to replace it`, { file: f });
    }
  }
  await writeFile(key, pem.key, { mode: 0o600 });
  await chmod(key, 0o600);
  await writeFile(cert, pem.cert, { mode: 0o644 });
  return { cert, key };
}

export interface TlsFiles {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

export interface CheckedTls {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly notAfterMs: number;
  readonly subject: string;
}

async function readOne(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new PkiFileError('PKI_FILE_UNREADABLE', `${what} ${file} cannot be read (${code}); issue it with kip pki issue and install it there`, { file, what, errno: code });
  }
}

function parseCert(file: string, data: Buffer, what: string): X509Certificate {
  try {
    return new X509Certificate(data);
  } catch (err) {
    throw new PkiFileError('PKI_FILE_INVALID', `${what} ${file} is not a PEM certificate (${err instanceof Error ? err.message : String(err)})`, { file, what });
  }
}

/** Reads and cross-checks a CA, certificate and key; nothing is used unless all three agree. */
export async function readCheckedTls(files: TlsFiles): Promise<CheckedTls> {
  const [ca, cert, key] = [await readOne(files.ca, 'CA certificate'), await readOne(files.cert, 'certificate'), await readOne(files.key, 'private key')];
  const caCert = parseCert(files.ca, ca, 'CA certificate');
  const own = parseCert(files.cert, cert, 'certificate');
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new PkiFileError('PKI_FILE_INVALID', `private key ${files.key} is not a PEM private key (${err instanceof Error ? err.message : String(err)})`, { file: files.key });
  }
  if (!own.checkPrivateKey(privateKey)) {
    throw new PkiFileError('PKI_KEY_MISMATCH', `private key ${files.key} does not belong to certificate ${files.cert}; install the key issued with that certificate`, { key: files.key, cert: files.cert });
  }
  if (!own.verify(caCert.publicKey)) {
    throw new PkiFileError('PKI_NOT_SIGNED_BY_CA', `certificate ${files.cert} is not signed by CA ${files.ca}; issue it from that CA (kip pki issue) or install the CA that signed it`, { cert: files.cert, ca: files.ca });
  }
  return { ca, cert, key, notAfterMs: Date.parse(own.validTo), subject: own.subject.replace(/\n/g, ', ') };
}
