import { isPermission, PERMISSIONS, type Permission } from './permissions.js';

/**
 * An API key's scopes narrow its role: each is a permission name, or `firmware.sign:<signer>`, which
 * grants firmware.sign with that signer only (a release pipeline's key signs one product line).
 */
const SIGNER_SCOPE = /^firmware\.sign:([a-z0-9][a-z0-9-]{0,62})$/;

export const isScope = (value: string): boolean => isPermission(value) || SIGNER_SCOPE.test(value);

export const SCOPE_HELP = `scopes are permission names (${PERMISSIONS.join(', ')}) or firmware.sign:<signer>`;

/** The permissions scopes grant (firmware.sign:<signer> grants firmware.sign); null: no scopes. */
export function scopePermissions(scopes: readonly string[] | null | undefined): Permission[] | null {
  if (!scopes?.length) return null;
  return [...new Set(scopes.map((s) => (SIGNER_SCOPE.test(s) ? 'firmware.sign' : s)).filter(isPermission))];
}

/** The signers scopes limit firmware.sign to; null: any (no scopes, or plain firmware.sign among them). */
export function scopeSigners(scopes: readonly string[] | null | undefined): string[] | null {
  if (!scopes?.length || scopes.includes('firmware.sign')) return null;
  const names = scopes.flatMap((s) => SIGNER_SCOPE.exec(s)?.[1] ?? []);
  return names.length ? names : null;
}
