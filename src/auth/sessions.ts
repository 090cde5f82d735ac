import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../store/db.js';
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

export async function openSession(db: Db, operator: string, policy: SessionPolicy, now: Date, source?: string): Promise<IssuedSession> {
  const id = randomBytes(16).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const expiresAt = new Date(now.getTime() + policy.maxMs);
  await db('sessions').insert({ id, operator, secret_hash: hash(secret), created_at: now.getTime(), last_seen_at: now.getTime(), expires_at: expiresAt.getTime(), revoked_at: null, source: source ?? null });
  return { token: `hms_${id}_${secret}`, id, expiresAt, idleTimeoutSeconds: Math.round(policy.idleMs / 1000) };
}

export type SessionCheck = { ok: true; id: string; operator: OperatorRow; expiresAt: Date } | { ok: false; reason: 'malformed' | 'unknown' | 'expired' | 'idle' | 'revoked' | 'disabled'; id?: string; known?: boolean };

/** A valid session touches last_seen_at: the idle timeout counts from the last request. */
export async function checkSession(db: Db, token: string, policy: SessionPolicy, now: Date): Promise<SessionCheck> {
  const m = TOKEN.exec(token);
  if (!m) return { ok: false, reason: 'malformed' };
  const [, id, secret] = m as unknown as [string, string, string];
  const row = await db('sessions').where({ id }).first();
  const expected = Buffer.from(row?.secret_hash ?? hash('absent'), 'hex');
  if (!row || !timingSafeEqual(expected, Buffer.from(hash(secret), 'hex'))) return { ok: false, reason: 'unknown', id, known: Boolean(row) };
  if (row.revoked_at !== null) return { ok: false, reason: 'revoked', id, known: true };
  if (Number(row.expires_at) <= now.getTime()) return { ok: false, reason: 'expired', id, known: true };
  if (Number(row.last_seen_at) + policy.idleMs <= now.getTime()) return { ok: false, reason: 'idle', id, known: true };
  const operator = (await db('operators').where({ name: row.operator }).first()) as OperatorRow | undefined;
  if (!operator || operator.disabled_at !== null) return { ok: false, reason: 'disabled', id, known: true };
  await db('sessions').where({ id }).update({ last_seen_at: now.getTime() });
  return { ok: true, id, operator, expiresAt: new Date(Number(row.expires_at)) };
}

/**
 * Refresh rotates: the old token stops working, the new one keeps the absolute expiry. A compare-and-set
 * on the old session: of concurrent refreshes one wins, the others get undefined (the token is spent).
 */
export async function rotateSession(db: Db, id: string, policy: SessionPolicy, now: Date): Promise<IssuedSession | undefined> {
  const row = await db('sessions').where({ id }).first();
  if (!row || (await db('sessions').where({ id }).whereNull('revoked_at').update({ revoked_at: now.getTime() })) !== 1) return undefined;
  const next = await openSession(db, row.operator, policy, now, row.source ?? undefined);
  await db('sessions').where({ id: next.id }).update({ expires_at: Number(row.expires_at) });
  return { ...next, expiresAt: new Date(Number(row.expires_at)) };
}

export async function closeSession(db: Db, id: string, now: Date): Promise<void> {
  await db('sessions').where({ id }).update({ revoked_at: now.getTime() });
}
