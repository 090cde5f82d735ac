import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { findOperator, findSession, insertSession, revokeSession, setSessionExpiry, touchSession } from '../store/credentials.js';
import type { Handle } from '../store/handle.js';
import type { OperatorRow } from './operators.js';

export interface SessionPolicy {
  idleMs: number;
  maxMs: number;
}

const hash = (secret: string) => createHash('sha256').update(secret).digest('hex');
const TOKEN = /^hms_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;

export interface IssuedSession {
  token: string;
  id: string;
  expiresAt: Date;
  idleTimeoutSeconds: number;
}

export async function openSession(store: Handle, operator: string, policy: SessionPolicy, now: Date, source?: string): Promise<IssuedSession> {
  const id = randomBytes(16).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const expiresAt = new Date(now.getTime() + policy.maxMs);
  await insertSession(store, { id, operator, secret_hash: hash(secret), created_at: now.getTime(), last_seen_at: now.getTime(), expires_at: expiresAt.getTime(), revoked_at: null, source: source ?? null });
  return { token: `hms_${id}_${secret}`, id, expiresAt, idleTimeoutSeconds: Math.round(policy.idleMs / 1000) };
}

export type SessionCheck = { ok: true; id: string; operator: OperatorRow; expiresAt: Date } | { ok: false; reason: 'malformed' | 'unknown' | 'expired' | 'idle' | 'revoked' | 'disabled'; id?: string; known?: boolean };

/** A valid session touches last_seen_at: the idle timeout counts from the last request. */
export async function checkSession(store: Handle, token: string, policy: SessionPolicy, now: Date): Promise<SessionCheck> {
  const m = TOKEN.exec(token);
  if (!m) return { ok: false, reason: 'malformed' };
  const [, id, secret] = m as unknown as [string, string, string];
  const row = await findSession(store, id);
  const expected = Buffer.from(row?.secret_hash ?? hash('absent'), 'hex');
  if (!row || !timingSafeEqual(expected, Buffer.from(hash(secret), 'hex'))) return { ok: false, reason: 'unknown', id, known: Boolean(row) };
  if (row.revoked_at !== null) return { ok: false, reason: 'revoked', id, known: true };
  if (Number(row.expires_at) <= now.getTime()) return { ok: false, reason: 'expired', id, known: true };
  if (Number(row.last_seen_at) + policy.idleMs <= now.getTime()) return { ok: false, reason: 'idle', id, known: true };
  const operator = (await findOperator(store, row.operator)) as OperatorRow | undefined;
  if (!operator || operator.disabled_at !== null) return { ok: false, reason: 'disabled', id, known: true };
  await touchSession(store, id, now.getTime());
  return { ok: true, id, operator, expiresAt: new Date(Number(row.expires_at)) };
}

/**
 * Refresh rotates: the old token stops working, the new one keeps the absolute expiry. A compare-and-set
 * on the old session: of concurrent refreshes one wins, the others get undefined (the token is spent).
 */
export async function rotateSession(store: Handle, id: string, policy: SessionPolicy, now: Date): Promise<IssuedSession | undefined> {
  const row = await findSession(store, id);
  if (!row || !(await revokeSession(store, id, now.getTime()))) return undefined;
  const next = await openSession(store, row.operator, policy, now, row.source ?? undefined);
  await setSessionExpiry(store, next.id, Number(row.expires_at));
  return { ...next, expiresAt: new Date(Number(row.expires_at)) };
}

export async function closeSession(store: Handle, id: string, now: Date): Promise<void> {
  await revokeSession(store, id, now.getTime());
}
