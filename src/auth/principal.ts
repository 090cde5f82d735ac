import type { Role } from './roles.js';
import { HIGH_IMPACT, roleAllows, type Permission } from './permissions.js';

/** Whoever a request speaks for, however it proved it. */
export interface Principal {
  kind: 'apikey' | 'session' | 'certificate';
  /** API key id, session operator name, or certificate serial. */
  id: string;
  /** Human-readable: key label, operator name, device id or station name. */
  name: string;
  role: Role;
  /** An API key's narrower scopes; null means everything the role allows. */
  scopes: readonly Permission[] | null;
  /** The signers an API key scoped with firmware.sign:<signer> may sign with; absent or null: any. */
  signers?: readonly string[] | null;
  /** When the credential stops working (key expiry, session end, certificate notAfter); null: never. */
  expiresAt: Date | null;
}

export const actorName = (p: Principal) => `${p.kind}:${p.kind === 'session' ? p.name : p.id}`;

export type Decision = { allowed: true } | { allowed: false; reason: string };

/**
 * The one authorization decision: the role must allow the permission, the key's scopes (if any)
 * must include it, and high-impact permissions need an operator session or an API key whose scopes
 * name that permission explicitly.
 */
export function decide(principal: Principal, permission: Permission): Decision {
  if (!roleAllows(principal.role, permission)) return { allowed: false, reason: `role ${principal.role} lacks permission ${permission}` };
  if (principal.scopes && !principal.scopes.includes(permission)) return { allowed: false, reason: `this API key is not scoped for ${permission}` };
  if (HIGH_IMPACT.has(permission) && principal.kind !== 'session' && !principal.scopes?.includes(permission)) {
    return { allowed: false, reason: `${permission} is high-impact: use an operator session, or an API key scoped explicitly for it` };
  }
  return { allowed: true };
}

/** Whether the principal may sign with signer `name` (an API key scoped to other signers may not). */
export function maySignWith(principal: Principal, name: string): Decision {
  if (!principal.signers || principal.signers.includes(name)) return { allowed: true };
  return { allowed: false, reason: `this API key signs with ${principal.signers.join(', ')} only, not with "${name}"` };
}
