import { sql, type Handle } from './handle.js';

/**
 * Who may act, as stored: operators and their sessions, API keys, and devices' one-time enrollment
 * secrets. Secrets are stored hashed (or sealed, for TOTP seeds) by the callers in auth/.
 */

export interface OperatorRow {
  name: string;
  role: string;
  password_hash: string;
  totp_sealed: Buffer;
  totp_last_step: number;
  created_by: string;
  created_at: number;
  disabled_at: number | null;
}

export const findOperator = (handle: Handle, name: string): Promise<OperatorRow | undefined> => sql(handle)('operators').where({ name }).first();

export const listOperators = (handle: Handle): Promise<OperatorRow[]> => sql(handle)('operators').select('*').orderBy('name');

export const insertOperator = async (handle: Handle, row: OperatorRow): Promise<void> => void (await sql(handle)('operators').insert(row));

/** Moves the operator's last used TOTP step forward; false when another login used this step (or a later one) first. */
export const advanceTotpStep = async (handle: Handle, name: string, step: number): Promise<boolean> =>
  (await sql(handle)('operators').where({ name }).where('totp_last_step', '<', step).update({ totp_last_step: step })) === 1;

/** Disables an active operator and closes their open sessions; false when there was none to disable. */
export async function disableOperator(handle: Handle, name: string, now: number): Promise<boolean> {
  const db = sql(handle);
  if ((await db('operators').where({ name }).whereNull('disabled_at').update({ disabled_at: now })) !== 1) return false;
  await db('sessions').where({ operator: name }).whereNull('revoked_at').update({ revoked_at: now });
  return true;
}

/**
 * Replaces an active operator's password hash or TOTP seed and closes their open sessions (whoever
 * held the old credential is signed out); false when there is no active operator of that name.
 */
export async function replaceOperatorCredential(
  handle: Handle,
  name: string,
  credential: Pick<OperatorRow, 'password_hash'> | Pick<OperatorRow, 'totp_sealed' | 'totp_last_step'>,
  now: number,
): Promise<boolean> {
  const db = sql(handle);
  if ((await db('operators').where({ name }).whereNull('disabled_at').update(credential)) !== 1) return false;
  await db('sessions').where({ operator: name }).whereNull('revoked_at').update({ revoked_at: now });
  return true;
}

export interface SessionRow {
  id: string;
  operator: string;
  secret_hash: string;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  revoked_at: number | null;
  source: string | null;
}

export const insertSession = async (handle: Handle, row: SessionRow): Promise<void> => void (await sql(handle)('sessions').insert(row));

export const findSession = (handle: Handle, id: string): Promise<SessionRow | undefined> => sql(handle)('sessions').where({ id }).first();

export const touchSession = async (handle: Handle, id: string, at: number): Promise<void> => void (await sql(handle)('sessions').where({ id }).update({ last_seen_at: at }));

/** Closes an open session; false when it was closed already (compare-and-set: one refresh wins). */
export const revokeSession = async (handle: Handle, id: string, at: number): Promise<boolean> =>
  (await sql(handle)('sessions').where({ id }).whereNull('revoked_at').update({ revoked_at: at })) === 1;

export const setSessionExpiry = async (handle: Handle, id: string, expiresAt: number): Promise<void> => void (await sql(handle)('sessions').where({ id }).update({ expires_at: expiresAt }));

export interface ApiKeyRow {
  id: string;
  role: string;
  scopes: string | null;
  secret_hash: string;
  label: string | null;
  created_by: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
}

export const insertApiKey = async (handle: Handle, row: ApiKeyRow): Promise<void> => void (await sql(handle)('api_keys').insert(row));

export const findApiKey = (handle: Handle, id: string): Promise<ApiKeyRow | undefined> => sql(handle)('api_keys').where({ id }).first();

export const listApiKeys = (handle: Handle): Promise<ApiKeyRow[]> => sql(handle)('api_keys').select('*').orderBy('created_at');

export const revokeApiKey = async (handle: Handle, id: string, at: number): Promise<boolean> =>
  (await sql(handle)('api_keys').where({ id }).whereNull('revoked_at').update({ revoked_at: at })) === 1;

export interface EnrollmentTokenRow {
  id: string;
  device: string;
  label: string | null;
  secret_hash: string;
  created_by: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  used_for?: string | null;
  revoked_at?: number | null;
  revoked_by?: string | null;
  lot?: string | null;
  /** CMP secrets: the secret sealed under the token's key (migration 019). */
  sealed_secret?: Buffer | null;
}

export type EnrollmentTokenState = 'unused' | 'used' | 'expired' | 'revoked';

export const insertEnrollmentTokens = async (handle: Handle, rows: EnrollmentTokenRow[]): Promise<void> => {
  // In chunks: SQLite takes at most 32,766 bound values a statement.
  for (let i = 0; i < rows.length; i += 500) await sql(handle)('enrollment_tokens').insert(rows.slice(i, i + 500));
};

/** Secrets newest first, without their hashes; `state` as of `now`. */
export function listEnrollmentTokens(
  handle: Handle,
  filter: { device?: string; lot?: string; state?: EnrollmentTokenState; limit: number; offset?: number },
  now: number,
): Promise<(Omit<EnrollmentTokenRow, 'secret_hash' | 'sealed_secret'> & { cmp: boolean | number })[]> {
  // Never the hash nor the sealed secret: only whether the secret is one for CMP.
  const q = sql(handle)('enrollment_tokens').select('id', 'device', 'label', 'lot', 'created_by', 'created_at', 'expires_at', 'used_at', 'used_for', 'revoked_at', 'revoked_by', sql(handle).raw('(sealed_secret IS NOT NULL) AS cmp'));
  if (filter.device) q.where({ device: filter.device });
  if (filter.lot) q.where({ lot: filter.lot });
  if (filter.state === 'revoked') q.whereNotNull('revoked_at');
  else if (filter.state === 'used') q.whereNull('revoked_at').whereNotNull('used_at');
  else if (filter.state === 'expired') q.whereNull('revoked_at').whereNull('used_at').where('expires_at', '<=', now);
  else if (filter.state === 'unused') q.whereNull('revoked_at').whereNull('used_at').where('expires_at', '>', now);
  return q.orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id' }]).limit(filter.limit).offset(filter.offset ?? 0);
}

/** Revokes secrets not used yet (one by id, or every one of a lot); returns how many. */
export async function revokeEnrollmentTokens(handle: Handle, which: { id: string } | { lot: string }, by: string, now: number): Promise<number> {
  return sql(handle)('enrollment_tokens').where(which).whereNull('used_at').whereNull('revoked_at').update({ revoked_at: now, revoked_by: by });
}

export const findEnrollmentToken = (handle: Handle, id: string): Promise<EnrollmentTokenRow | undefined> => sql(handle)('enrollment_tokens').where({ id }).first();

/** Marks the secret used; false when it was used already (one enrollment wins). */
export const consumeEnrollmentToken = async (handle: Handle, id: string, at: number): Promise<boolean> =>
  (await sql(handle)('enrollment_tokens').where({ id }).whereNull('used_at').whereNull('revoked_at').update({ used_at: at })) === 1;

/** Gives an unused-for-anything secret back (its enrollment failed before a certificate was recorded). */
export const releaseEnrollmentToken = async (handle: Handle, id: string): Promise<void> => void (await sql(handle)('enrollment_tokens').where({ id }).whereNull('used_for').update({ used_at: null }));

export const recordTokenUse = async (handle: Handle, id: string, serial: string): Promise<void> => void (await sql(handle)('enrollment_tokens').where({ id }).update({ used_for: serial }));

/** A device's unused, unrevoked, unexpired secrets made for CMP (sealed), newest first: at most five are tried against a MAC (each costs the server a PasswordBasedMac). */
export const usableCmpTokens = (handle: Handle, device: string, now: number): Promise<EnrollmentTokenRow[]> =>
  sql(handle)('enrollment_tokens').where({ device }).whereNotNull('sealed_secret').whereNull('used_at').whereNull('revoked_at').where('expires_at', '>', now).orderBy('created_at', 'desc').limit(5);
