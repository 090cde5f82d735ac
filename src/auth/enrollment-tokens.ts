import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as tokens from '../store/credentials.js';
import type { Handle } from '../store/handle.js';

const hash = (secret: string) => createHash('sha256').update(secret).digest('hex');

export interface EnrollmentToken {
  id: string;
  device: string;
  label: string | null;
  expires_at: number;
  used_at: number | null;
}

/** Seals a secret for CMP (its MAC is checked with the secret itself): under the token's AES key, bound to the secret's id. */
export type SealSecret = (id: string, secret: string) => Promise<Uint8Array>;
export const cmpSecretContext = (id: string) => `cmp-secret:${id}`;

/**
 * `<id>.<192 random bits>`, all hex: a secret travels as HTTP Basic (EST), a MAC key (CMP) and a CSR's
 * challengePassword (SCEP), which clients encode as a PrintableString: no character outside its set.
 */
const newSecret = () => {
  const id = randomBytes(8).toString('hex');
  return { id, secret: `${id}.${randomBytes(24).toString('hex')}` };
};

/**
 * One-time EST enrollment secrets, one per device (docs/device-developers.md: presented as HTTP Basic
 * `<device id>:<secret>`), written together. The secret carries its id (`<id>.<random>`), so lookup
 * needs no scan; only its hash is stored.
 */
export async function createEnrollmentTokens(
  store: Handle,
  options: { devices: string[]; label?: string; lot?: string; expiresAt: Date; createdBy: string; now: Date; seal?: SealSecret },
): Promise<{ id: string; device: string; secret: string }[]> {
  const made = options.devices.map((device) => ({ device, ...newSecret() }));
  const sealed = options.seal ? await Promise.all(made.map((m) => options.seal!(m.id, m.secret))) : undefined;
  await tokens.insertEnrollmentTokens(
    store,
    made.map(({ id, device, secret }, i) => ({
      id,
      device,
      label: options.label ?? null,
      lot: options.lot ?? null,
      secret_hash: hash(secret),
      created_by: options.createdBy,
      created_at: options.now.getTime(),
      expires_at: options.expiresAt.getTime(),
      used_at: null,
      ...(sealed ? { sealed_secret: Buffer.from(sealed[i]!) } : {}),
    })),
  );
  return made;
}

/** One device's secret. */
export async function createEnrollmentToken(
  store: Handle,
  options: { device: string; label?: string; expiresAt: Date; createdBy: string; now: Date },
): Promise<{ id: string; secret: string }> {
  const [made] = await createEnrollmentTokens(store, { ...options, devices: [options.device] });
  return made!;
}

/** `known`: the secret names a token that exists (a failure then counts against the device it claims). */
export type TokenCheck = { ok: true; token: EnrollmentToken } | { ok: false; reason: string; known: boolean };

/** Valid for this device (and label, when bound to one), unexpired and unused. Does not consume. */
/** Secrets made before they were all hex (`<id>.<32 base64url>`) stay valid. */
export async function checkEnrollmentToken(store: Handle, device: string, secret: string, label: string, now: Date): Promise<TokenCheck> {
  const id = /^([0-9a-f]{16})\.(?:[0-9a-f]{48}|[A-Za-z0-9_-]{32})$/.exec(secret)?.[1];
  const row = id ? await tokens.findEnrollmentToken(store, id) : undefined;
  const expected = Buffer.from(row?.secret_hash ?? hash('absent'), 'hex');
  if (!row || !timingSafeEqual(expected, Buffer.from(hash(secret), 'hex')) || row.device !== device) return { ok: false, reason: 'enrollment secret not valid for this device', known: Boolean(row) };
  if (row.revoked_at) return { ok: false, reason: 'enrollment secret was revoked', known: true };
  if (row.used_at !== null) return { ok: false, reason: 'enrollment secret was already used', known: true };
  if (Number(row.expires_at) <= now.getTime()) return { ok: false, reason: 'enrollment secret has expired', known: true };
  if (row.label && row.label !== label) return { ok: false, reason: `enrollment secret is for label "${row.label}"`, known: true };
  return { ok: true, token: row };
}

/** Compare-and-set: of two enrollments racing with one secret, one wins. */
export const consumeEnrollmentToken = (store: Handle, id: string, now: Date): Promise<boolean> => tokens.consumeEnrollmentToken(store, id, now.getTime());

/** An enrollment that failed after consuming its secret gives it back (nothing was issued). */
export const releaseEnrollmentToken = (store: Handle, id: string): Promise<void> => tokens.releaseEnrollmentToken(store, id);

export const recordTokenUse = (store: Handle, id: string, serial: string): Promise<void> => tokens.recordTokenUse(store, id, serial);
