/**
 * Certificate expiry, before a run that may last hours: every agent's server certificate (GetNode
 * tls_cert_not_after_unix_ms) and the coordinator's own client certificate. An expired one fails
 * preflight (the TLS handshake would fail mid-run); one expiring within WARN_DAYS warns. Pure:
 * the dates come in, findings go out.
 */
import { X509Certificate } from 'node:crypto';
import type { Finding } from './rules.ts';

export const CERT_WARN_DAYS = 30;
const DAY_MS = 86_400_000;

export interface CertExpiry {
  /** What the certificate is, for the finding's object ("node worker-1 (agent certificate)"). */
  readonly object: string;
  /** Not-after, unix ms; 0 when unknown (an agent too old to report it). */
  readonly notAfterMs: number;
  /** How to renew it. */
  readonly fix: string;
}

export function certFindings(certs: readonly CertExpiry[], nowMs: number, warnDays = CERT_WARN_DAYS): Finding[] {
  const out: Finding[] = [];
  for (const c of certs) {
    if (!(c.notAfterMs > 0)) continue;
    const until = new Date(c.notAfterMs).toISOString();
    const days = Math.floor((c.notAfterMs - nowMs) / DAY_MS);
    if (c.notAfterMs <= nowMs) out.push({ severity: 'error', check: 'cert-expiry', object: c.object, why: `the certificate expired on ${until}`, fix: c.fix });
    else if (c.notAfterMs - nowMs < warnDays * DAY_MS) out.push({ severity: 'warning', check: 'cert-expiry', object: c.object, why: `the certificate expires on ${until} (in ${days} day${days === 1 ? '' : 's'}, under ${warnDays})`, fix: c.fix });
  }
  return out;
}

/** Not-after of a PEM certificate, or undefined when it does not parse (the TLS setup reports that). */
export function pemNotAfterMs(pem: Buffer): number | undefined {
  try {
    return Date.parse(new X509Certificate(pem).validTo);
  } catch {
    return undefined;
  }
}

export const AGENT_CERT_FIX = 'issue a new one (kip pki issue --agent NODE --ip IP --force), install it as /etc/kip/pki/agent.crt/.key (the Ansible role does), then systemctl reload kip-agent (SIGHUP)';
export const COORDINATOR_CERT_FIX = 'issue a new one (kip pki issue --coordinator NAME --force) and install it in --pki-dir as coordinator.crt/.key';
