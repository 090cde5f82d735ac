import { ROLE_PERMISSIONS, type Permission } from './permissions.js';
import { scopePermissions, scopeSigners } from './scopes.js';
import type { Principal } from './principal.js';
import type { Role } from './roles.js';
import { HallmarkError } from '../base/errors.js';

/** What a credential may do: its role's permissions, narrowed by its scopes when it has any. */
export function effectivePermissions(role: Role, scopes: readonly Permission[] | null | undefined): Set<Permission> {
  const granted = ROLE_PERMISSIONS[role];
  return new Set(scopes?.length ? granted.filter((p) => scopes.includes(p)) : granted);
}

/**
 * A principal grants a credential (an API key) no wider than its own: every permission the new one
 * would have, the granter has; and it expires no later than the granter's own credential, unless an
 * operator session (password + TOTP, a person at the console) grants it.
 */
export function refuseWiderGrant(granter: Principal, grant: { role: Role; scopes?: readonly string[]; expiresAt?: Date }): void {
  const mine = effectivePermissions(granter.role, granter.scopes);
  const granted = effectivePermissions(grant.role, scopePermissions(grant.scopes));
  const wider: string[] = [...granted].filter((p) => !mine.has(p));
  // A key that signs with some signers only grants signing with those only.
  const signers = scopeSigners(grant.scopes);
  if (granter.signers && granted.has('firmware.sign') && (!signers || signers.some((s) => !granter.signers!.includes(s)))) {
    wider.push(`firmware.sign with ${signers ? signers.filter((s) => !granter.signers!.includes(s)).join(', ') : 'any signer'}`);
  }
  if (wider.length) throw new HallmarkError('escalation', `a credential cannot grant more than it holds: ${wider.join(', ')} ${wider.length === 1 ? 'is' : 'are'} beyond ${granter.kind === 'apikey' ? 'this API key' : 'this principal'}'s own permissions`, 403);
  if (granter.kind === 'session' || !granter.expiresAt) return;
  if (!grant.expiresAt || grant.expiresAt > granter.expiresAt) {
    throw new HallmarkError('escalation', `a credential cannot outlive the one that grants it: give an expiry of at most ${granter.expiresAt.toISOString()} (this credential's own)`, 403);
  }
}
