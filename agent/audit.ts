/**
 * Who made the agent do what. Every gRPC call runs inside a caller context (its method and the
 * subject of the client certificate, read from the TLS session); the Exec of binaries under
 * inspection logs each program it runs with that caller. A run the agent drives inherits the
 * context of the Upgrade or Rollback call that started it; a run resumed at start-up has none
 * and is logged as the agent's own (issue 8, defect 16).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { PeerCertificate } from 'node:tls';
import type { Exec } from '../lib/exec.ts';
import type { Logger } from '../lib/logger.ts';
import { boundText } from '../proto/kip/errors.ts';

export interface Caller {
  readonly method: string;
  /** The client certificate's subject, e.g. `CN=kip-coordinator`; `(none)` without one. */
  readonly subject: string;
  readonly fingerprint256: string;
  readonly address: string;
}

const storage = new AsyncLocalStorage<Caller>();

export function withCaller<T>(caller: Caller, fn: () => T): T {
  return storage.run(caller, fn);
}

export function currentCaller(): Caller | undefined {
  return storage.getStore();
}

function formatSubject(subject: PeerCertificate['subject'] | undefined): string {
  if (!subject) return '(none)';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(subject as unknown as Record<string, string | string[] | undefined>)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) parts.push(`${k}=${one}`);
  }
  return boundText(parts.join(','), 512);
}

interface CallLike {
  getPeer(): string;
  getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null | undefined;
}

/** The caller of a gRPC call, from the peer certificate of its TLS session. Never throws. */
export function callerOf(method: string, call: CallLike): Caller {
  let cert: PeerCertificate | undefined;
  let address = '?';
  try {
    cert = call.getAuthContext()?.sslPeerCertificate;
    address = call.getPeer();
  } catch {
    // A call whose session is gone: report what is known.
  }
  return { method, subject: formatSubject(cert?.subject), fingerprint256: cert?.fingerprint256 ?? '', address };
}

/** An Exec that logs every program it runs with the caller that caused it. */
export function auditedExec(exec: Exec, logger: Logger): Exec {
  const log = logger.child({ component: 'audit' });
  return async (command, args, options) => {
    const caller = currentCaller();
    log.info({ command: boundText(command, 512), args: args.map((a) => boundText(a, 128)), caller: caller ?? { method: '(agent)', subject: '(the agent itself)' } }, 'executing a binary');
    return exec(command, args, options);
  };
}
