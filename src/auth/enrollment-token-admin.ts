import { isoTime } from '../base/iso-time.js';
import { inTransaction, type Store } from '../store/handle.js';
import { listEnrollmentTokens, revokeEnrollmentTokens, type EnrollmentTokenRow, type EnrollmentTokenState } from '../store/credentials.js';
import { cmpSecretContext, createEnrollmentTokens } from './enrollment-tokens.js';
import { HallmarkError } from '../base/errors.js';
import type { AuditLog } from '../audit/log.js';
import type { SecretSealer } from '../keys/key-store.js';

/**
 * One-time enrollment secrets as operators manage them, from the CLI (`hallmark token`) and REST
 * (`/api/v1/tokens`): the same checks, the same audit entries, the same answers.
 */

export const TOKEN_STATES: EnrollmentTokenState[] = ['unused', 'used', 'expired', 'revoked'];
export const MAX_LOT = 100_000;
/** The columns of a lot's secrets, in the order the CSV file has them. */
export const TOKEN_COLUMNS = ['device', 'secret', 'id', 'label', 'expiresAt'] as const;

export interface TokenAdminDeps {
  store: Store;
  audit: AuditLog;
  /** What the checks read of the configuration: EST labels and the identity rule of their profiles. */
  config: { est: { labels: Record<string, { profile: string }> }; cmp: { labels: Record<string, { profile: string }> }; profiles: Map<string, { name: string; identity: { pattern: string } }> };
  /** Seals secrets made for CMP (the token's AES key). */
  sealer?: SecretSealer;
}


export const tokenState = (row: Omit<EnrollmentTokenRow, 'secret_hash'>, now: number): EnrollmentTokenState =>
  row.revoked_at ? 'revoked' : row.used_at !== null ? 'used' : Number(row.expires_at) <= now ? 'expired' : 'unused';

/** A secret as listed: never the secret or its hash. */
export const tokenView = (row: Omit<EnrollmentTokenRow, 'secret_hash'> & { cmp?: boolean | number }, now: number) => ({
  id: row.id,
  device: row.device,
  /** est: HTTP Basic (EST, /api/v1/enroll); cmp: a MAC (CMP). */
  use: row.cmp ? 'cmp' : 'est',
  label: row.label ?? 'any',
  lot: row.lot ?? null,
  state: tokenState(row, now),
  expiresAt: isoTime(row.expires_at),
  usedAt: isoTime(row.used_at),
  usedFor: row.used_for ?? null,
  createdBy: row.created_by,
  revokedBy: row.revoked_by ?? null,
});

/** A lot's devices are <lot>-0001 … <lot>-<n>: the ids printed on its labels. */
export function lotDeviceIds(lot: string, count: number): string[] {
  const width = Math.max(4, String(count).length);
  return Array.from({ length: count }, (_, i) => `${lot}-${String(i + 1).padStart(width, '0')}`);
}

/** Why these device ids cannot have secrets on this EST (or CMP) label (unknown label, or an id its profile refuses), if they cannot. */
export function deviceIdProblem(config: TokenAdminDeps['config'], label: string | undefined, devices: string[], protocol: 'EST' | 'CMP' = 'EST'): string | undefined {
  const name = label ?? 'default';
  const labels = protocol === 'EST' ? config.est.labels : config.cmp.labels;
  const est = labels[name];
  if (!est) return `no ${protocol} label "${name}" (configured: ${Object.keys(labels).join(', ')})`;
  const profile = config.profiles.get(est.profile)!;
  const pattern = new RegExp(profile.identity.pattern);
  // A secret for an id the profile refuses is a dead secret.
  const refused = devices.find((d) => !pattern.test(d));
  return refused === undefined ? undefined : `device id "${refused}" does not match profile "${profile.name}" (${protocol} label "${name}"): ids must match ${profile.identity.pattern}`;
}

export interface MadeTokens {
  expiresAt: string;
  tokens: { device: string; secret: string; id: string; label: string | null; expiresAt: string }[];
}

/**
 * Secrets for one device or a whole lot, written and audited in one transaction; the secrets are in
 * the answer only (their hashes are stored). A lot that has secrets already is refused (409).
 */
export async function createTokens(
  deps: TokenAdminDeps,
  request: { device?: string; lot?: string; count?: number; label?: string; expiresAt: Date; actor: string; source: string | undefined; now: Date; cmp?: boolean },
): Promise<MadeTokens> {
  if (request.cmp && !deps.sealer) throw new HallmarkError('no_sealer', 'secrets for CMP are sealed under the token key: this process has no token', 503);
  // CMP checks a PasswordBasedMac with the secret itself: it is kept sealed under the token's AES key.
  const seal = request.cmp ? (id: string, secret: string) => deps.sealer!.seal(new TextEncoder().encode(secret), cmpSecretContext(id)) : undefined;
  const devices = request.lot ? lotDeviceIds(request.lot, request.count ?? 0) : [request.device!];
  const problem = deviceIdProblem(deps.config, request.label, devices, request.cmp ? 'CMP' : 'EST');
  if (problem) throw new HallmarkError('invalid_device', problem, 400);
  const made = await inTransaction(deps.store, async (trx) => {
    if (request.lot && (await listEnrollmentTokens(trx, { lot: request.lot, limit: 1 }, request.now.getTime())).length) {
      throw new HallmarkError('exists', `lot "${request.lot}" has secrets already; list them (\`hallmark token list --lot ${request.lot}\`), revoke them, or name another lot`, 409);
    }
    const created = await createEnrollmentTokens(trx, { devices, label: request.label, lot: request.lot, expiresAt: request.expiresAt, createdBy: request.actor, now: request.now, seal });
    await deps.audit.recordIn(trx, {
      actor: request.actor,
      action: 'token.create',
      target: request.lot ? `lot:${request.lot}` : request.device,
      outcome: 'success',
      source: request.source,
      details: request.lot
        ? { lot: request.lot, count: devices.length, label: request.label, expiresAt: request.expiresAt.toISOString() }
        : { id: created[0]!.id, label: request.label, expiresAt: request.expiresAt.toISOString(), cmp: request.cmp || undefined },
    });
    return created;
  });
  const expiresAt = request.expiresAt.toISOString();
  return { expiresAt, tokens: made.map((t) => ({ device: t.device, secret: t.secret, id: t.id, label: request.label ?? null, expiresAt })) };
}

/** Revokes one unused secret or every unused one of a lot, audited; 404 when there was none. */
export async function revokeTokens(deps: Pick<TokenAdminDeps, 'store' | 'audit'>, which: { id: string } | { lot: string }, actor: string, source: string | undefined, now: Date): Promise<number> {
  const target = 'id' in which ? which.id : `lot:${which.lot}`;
  const revoked = await inTransaction(deps.store, async (trx) => {
    const n = await revokeEnrollmentTokens(trx, which, actor, now.getTime());
    if (n) await deps.audit.recordIn(trx, { actor, action: 'token.revoke', target, outcome: 'success', source, details: { count: n } });
    return n;
  });
  if (!revoked) throw new HallmarkError('not_found', `${'id' in which ? `no unused secret "${which.id}"` : `no unused secret in lot "${which.lot}"`} (used, revoked or unknown; see \`hallmark token list\`)`, 404);
  return revoked;
}
