/**
 * The agent's TLS material as a grpc-js CertificateProvider: loaded and cross-checked
 * (lib/pki/files.ts) at start, and again on SIGHUP. A reload swaps the secure context for NEW
 * connections only; open connections, running calls and the agent's state are untouched. A
 * reload that fails the checks keeps the old material and says why.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../lib/logger.ts';
import type { AgentHandlers } from '../proto/kip/generated/kip/v1/Agent.ts';
import { readCheckedTls, type CheckedTls, type TlsFiles } from '../lib/pki/files.ts';

type CaListener = (u: { caCertificate: Buffer } | null) => void;
type IdListener = (u: { certificate: Buffer; privateKey: Buffer } | null) => void;

export class AgentTls {
  private readonly ca = new Set<CaListener>();
  private readonly id = new Set<IdListener>();

  private constructor(private readonly files: TlsFiles, private current: CheckedTls, private readonly logger: Logger) {}

  static async load(files: TlsFiles, logger: Logger): Promise<AgentTls> {
    return new AgentTls(files, await readCheckedTls(files), logger.child({ component: 'tls' }));
  }

  get notAfterMs(): number {
    return this.current.notAfterMs;
  }

  get subject(): string {
    return this.current.subject;
  }

  /** Re-reads the files; on success new connections use them. Resolves false (and logs) when they fail the checks. */
  async reload(): Promise<boolean> {
    let next: CheckedTls;
    try {
      next = await readCheckedTls(this.files);
    } catch (err) {
      this.logger.error({ err }, 'certificate reload refused; keeping the current certificates');
      return false;
    }
    this.current = next;
    for (const l of this.ca) l({ caCertificate: next.ca });
    for (const l of this.id) l({ certificate: next.cert, privateKey: next.key });
    this.logger.info({ subject: next.subject, notAfter: new Date(next.notAfterMs).toISOString() }, 'certificates reloaded');
    return true;
  }

  /** Server credentials that follow reload(); client certificates are required and checked against the CA. */
  serverCredentials(): grpc.ServerCredentials {
    const provider = {
      addCaCertificateListener: (l: CaListener) => {
        this.ca.add(l);
        // Asynchronously: grpc-js registers its watcher only after adding the listener, and an
        // update delivered before that is never applied to the listening socket.
        setImmediate(() => l({ caCertificate: this.current.ca }));
      },
      removeCaCertificateListener: (l: CaListener) => void this.ca.delete(l),
      addIdentityCertificateListener: (l: IdListener) => {
        this.id.add(l);
        setImmediate(() => l({ certificate: this.current.cert, privateKey: this.current.key }));
      },
      removeIdentityCertificateListener: (l: IdListener) => void this.id.delete(l),
    };
    return grpc.experimental.createCertificateProviderServerCredentials(provider, provider, true);
  }
}

/** GetNode with the expiry of the certificate the agent serves right now. */
export function withCertExpiry(handlers: AgentHandlers, tls: Pick<AgentTls, 'notAfterMs'>): AgentHandlers {
  const inner = handlers.GetNode;
  return {
    ...handlers,
    GetNode: (call, callback) => inner(call, (err, res) => (err || !res ? callback(err, res) : callback(null, { ...res, tlsCertNotAfterUnixMs: tls.notAfterMs }))),
  };
}
