import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { findApiKey, insertApiKey, listApiKeys as storedApiKeys, revokeApiKey as revokeStoredApiKey, type ApiKeyRow as StoredApiKey } from '../store/credentials.js';
import type { Handle } from '../store/handle.js';

import type { Permission } from './permissions.js';
import { scopePermissions, scopeSigners } from './scopes.js';
import type { Role } from './roles.js';

export type ApiKeyRow = Omit<StoredApiKey, 'role'> & { role: Role };

const PREFIX = 'hmk_';
const hashSecret = (secret: string) => createHash('sha256').update(secret).digest('hex');

/**
 * `hmk_<id>_<secret>`: the id finds the row, the 256-bit secret is stored only as its SHA-256 (a
 * slow hash adds nothing at that entropy) and compared in constant time.
 */
export async function createApiKey(
  store: Handle,
  options: { role: Role; label?: string; scopes?: string[]; expiresAt?: Date; createdBy: string; now: Date },
): Promise<{ id: string; apiKey: string; row: ApiKeyRow }> {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const row: ApiKeyRow = {
    id,
    role: options.role,
    scopes: options.scopes?.length ? JSON.stringify(options.scopes) : null,
    secret_hash: hashSecret(secret),
    label: options.label ?? null,
    created_by: options.createdBy,
    created_at: options.now.getTime(),
    expires_at: options.expiresAt?.getTime() ?? null,
    revoked_at: null,
    last_used_at: null,
  };
  await insertApiKey(store, row);
  return { id, apiKey: `${PREFIX}${id}_${secret}`, row };
}

/** A refusal says whether the key it names exists (`known`): failures against a real key count against that key. */
export type ApiKeyCheck = { ok: true; key: ApiKeyRow } | { ok: false; reason: 'malformed' | 'unknown' | 'revoked' | 'expired'; id?: string; known?: boolean };

export async function checkApiKey(store: Handle, presented: string, now: Date): Promise<ApiKeyCheck> {
  const m = /^hmk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/.exec(presented);
  if (!m) return { ok: false, reason: 'malformed' };
  const [, id, secret] = m as unknown as [string, string, string];
  const row = (await findApiKey(store, id)) as ApiKeyRow | undefined;
  // Hash even when the id is unknown, so timing does not tell which ids exist.
  const expected = Buffer.from(row?.secret_hash ?? hashSecret('absent'), 'hex');
  const matches = timingSafeEqual(expected, Buffer.from(hashSecret(secret), 'hex'));
  if (!row || !matches) return { ok: false, reason: 'unknown', id, known: Boolean(row) };
  if (row.revoked_at !== null) return { ok: false, reason: 'revoked', id, known: true };
  if (row.expires_at !== null && Number(row.expires_at) <= now.getTime()) return { ok: false, reason: 'expired', id, known: true };
  return { ok: true, key: row };
}

/** The scopes as given (permission names, firmware.sign:<signer>); null: everything the role allows. */
export const keyScopeNames = (row: ApiKeyRow): string[] | null => (row.scopes ? (JSON.parse(row.scopes) as string[]) : null);
export const keyScopes = (row: ApiKeyRow): Permission[] | null => scopePermissions(keyScopeNames(row));
/** The signers the key may sign with; null: any its permissions allow. */
export const keySigners = (row: ApiKeyRow): string[] | null => scopeSigners(keyScopeNames(row));

export async function listApiKeys(store: Handle): Promise<ApiKeyRow[]> {
  return (await storedApiKeys(store)) as ApiKeyRow[];
}

/** Revoked keys stay listed (and audited); they just stop working. */
export const revokeApiKey = (store: Handle, id: string, now: Date): Promise<boolean> => revokeStoredApiKey(store, id, now.getTime());
