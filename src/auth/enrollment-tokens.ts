import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Knex } from 'knex';
import type { Db } from '../store/db.js';

const hash = (secret: string) => createHash('sha256').update(secret).digest('hex');

export interface EnrollmentToken {
  id: string;
  device: string;
  label: string | null;
  expires_at: number;
  used_at: number | null;
}

/**
 * A one-time EST enrollment secret for one device (CONTRACT.md: presented as HTTP Basic
 * `<device id>:<secret>`). The secret carries its id (`<id>.<random>`), so lookup needs no scan.
 */
export async function createEnrollmentToken(
  db: Db | Knex.Transaction,
  options: { device: string; label?: string; expiresAt: Date; createdBy: string; now: Date },
): Promise<{ id: string; secret: string }> {
  const id = randomBytes(8).toString('hex');
  const secret = `${id}.${randomBytes(24).toString('base64url')}`;
  await db('enrollment_tokens').insert({
    id,
    device: options.device,
    label: options.label ?? null,
    secret_hash: hash(secret),
    created_by: options.createdBy,
    created_at: options.now.getTime(),
    expires_at: options.expiresAt.getTime(),
    used_at: null,
  });
  return { id, secret };
}

/** `known`: the secret names a token that exists (a failure then counts against the device it claims). */
export type TokenCheck = { ok: true; token: EnrollmentToken } | { ok: false; reason: string; known: boolean };

/** Valid for this device (and label, when bound to one), unexpired and unused. Does not consume. */
export async function checkEnrollmentToken(db: Db, device: string, secret: string, label: string, now: Date): Promise<TokenCheck> {
  const id = /^([0-9a-f]{16})\.[A-Za-z0-9_-]{32}$/.exec(secret)?.[1];
  const row = id ? await db('enrollment_tokens').where({ id }).first() : undefined;
  const expected = Buffer.from(row?.secret_hash ?? hash('absent'), 'hex');
  if (!row || !timingSafeEqual(expected, Buffer.from(hash(secret), 'hex')) || row.device !== device) return { ok: false, reason: 'enrollment secret not valid for this device', known: Boolean(row) };
  if (row.used_at !== null) return { ok: false, reason: 'enrollment secret was already used', known: true };
  if (Number(row.expires_at) <= now.getTime()) return { ok: false, reason: 'enrollment secret has expired', known: true };
  if (row.label && row.label !== label) return { ok: false, reason: `enrollment secret is for label "${row.label}"`, known: true };
  return { ok: true, token: row };
}

/** Compare-and-set: of two enrollments racing with one secret, one wins. */
export async function consumeEnrollmentToken(db: Db, id: string, now: Date): Promise<boolean> {
  return (await db('enrollment_tokens').where({ id }).whereNull('used_at').update({ used_at: now.getTime() })) === 1;
}

/** An enrollment that failed after consuming its secret gives it back (nothing was issued). */
export async function releaseEnrollmentToken(db: Db, id: string): Promise<void> {
  await db('enrollment_tokens').where({ id }).whereNull('used_for').update({ used_at: null });
}

export async function recordTokenUse(db: Db, id: string, serial: string): Promise<void> {
  await db('enrollment_tokens').where({ id }).update({ used_for: serial });
}
