/**
 * Who may do what on an agent, carried in the client certificate's subject as an OU the agent
 * reads from the TLS peer certificate: `kip-role:coordinator` may call everything,
 * `kip-role:viewer` only what changes nothing. A client certificate from the agent's CA without a
 * role OU is a viewer: a role must be granted, never assumed.
 */
export type ClientRole = 'coordinator' | 'viewer';
export const ROLE_OU_PREFIX = 'kip-role:';

export function roleOu(role: ClientRole | 'agent'): string {
  return `${ROLE_OU_PREFIX}${role}`;
}

/** The role named by the subject's OU values (node's PeerCertificate.subject.OU: string or string[]). */
export function roleFromOu(ou: string | readonly string[] | undefined): ClientRole {
  const values = ou === undefined ? [] : typeof ou === 'string' ? [ou] : ou;
  return values.includes(roleOu('coordinator')) ? 'coordinator' : 'viewer';
}
