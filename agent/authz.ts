/**
 * Who may call what (lib/pki/roles.ts): the TLS layer already refused every client without a
 * certificate from the agent's CA; here a viewer (or a certificate without a role) is refused
 * the calls that change the node, with PERMISSION_DENIED and the kip code AGENT_PERMISSION_DENIED.
 * Every mutating call, allowed or not, is logged with the caller's certificate subject and role.
 * Wraps the handler map (agent/server.ts stays unaware of roles).
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../lib/logger.ts';
import { roleFromOu, type ClientRole } from '../lib/pki/roles.ts';
import { ERROR_CODE_KEY, ERROR_DETAILS_KEY } from '../proto/kip/errors.ts';

/** Calls that change the node; Hold/Release/Heal are listed ahead of their handlers. */
export const MUTATING_METHODS: ReadonlySet<string> = new Set(['StageBinary', 'Upgrade', 'Rollback', 'Hold', 'Release', 'Heal']);

export const PERMISSION_DENIED_CODE = 'AGENT_PERMISSION_DENIED';

interface PeerCall {
  getPeer(): string;
  getAuthContext(): { sslPeerCertificate?: { subject?: Record<string, string | string[] | undefined> } } | null;
}

export interface Caller {
  readonly role: ClientRole;
  readonly subject: string;
  readonly peer: string;
}

export function callerOf(call: PeerCall): Caller {
  const subject = call.getAuthContext()?.sslPeerCertificate?.subject ?? {};
  const text = Object.entries(subject)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : String(v)}`)
    .join(', ');
  return { role: roleFromOu(subject.OU), subject: text, peer: call.getPeer() };
}

export function permissionDenied(method: string, caller: Caller): grpc.ServiceError {
  const message = `${PERMISSION_DENIED_CODE}: ${method} changes the node and needs a coordinator certificate; ${caller.subject || 'this client'} is a ${caller.role} (issue one with kip pki issue --coordinator NAME)`;
  const metadata = new grpc.Metadata();
  metadata.set(ERROR_CODE_KEY, PERMISSION_DENIED_CODE);
  metadata.set(ERROR_DETAILS_KEY, JSON.stringify({ method, role: caller.role, subject: caller.subject }));
  return Object.assign(new Error(message), { code: grpc.status.PERMISSION_DENIED, details: message, metadata });
}

type AnyHandler = (call: PeerCall & { emit(event: 'error', err: unknown): boolean }, callback?: (err: grpc.ServiceError | null) => void) => void;

/** The same handlers, each mutating one behind the role check. */
export function withAuthz<H extends object>(handlers: H, logger: Logger): H {
  const log = logger.child({ component: 'authz' });
  const out: Record<string, unknown> = { ...(handlers as Record<string, unknown>) };
  for (const [name, handler] of Object.entries(handlers)) {
    if (!MUTATING_METHODS.has(name) || typeof handler !== 'function') continue;
    const inner = handler as AnyHandler;
    const wrapped: AnyHandler = (call, callback) => {
      const caller = callerOf(call);
      if (caller.role !== 'coordinator') {
        log.warn({ method: name, subject: caller.subject, role: caller.role, peer: caller.peer }, 'mutating call refused');
        const err = permissionDenied(name, caller);
        if (callback) callback(err);
        else call.emit('error', err);
        return;
      }
      log.info({ method: name, subject: caller.subject, role: caller.role, peer: caller.peer }, 'mutating call allowed');
      inner(call, callback);
    };
    // grpc-js tells unary/client-stream handlers (call, callback) from server streams (call) by
    // the method definition, not by arity, so the wrapper may declare both.
    out[name] = wrapped;
  }
  return out as H;
}
