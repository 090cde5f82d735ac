import type { AuditLog } from '../audit/log.js';
import type { Db } from '../store/db.js';

const CHUNK = 400;

/**
 * Intents whose request died before its certificate was recorded (a crash, a killed instance) stay
 * `pending` for ever otherwise. Older than `cutoff`, none of them can still be signing (a batch of a
 * thousand signs in about a second): each is marked failed and audited. None was returned to anyone
 * (a certificate is returned only once recorded), so nothing a client holds is touched.
 */
export async function sweepAbandonedIntents(deps: { db: Db; audit: AuditLog }, cutoff: number): Promise<number> {
  let swept = 0;
  for (;;) {
    const rows = (await deps.db('certificates').select('serial', 'issuer', 'profile', 'identity', 'created_at').where({ status: 'pending' }).where('created_at', '<', cutoff).limit(CHUNK)) as { serial: string; issuer: string; profile: string; identity: string | null; created_at: number }[];
    if (!rows.length) return swept;
    await deps.db.transaction(async (trx) => {
      const serials = rows.map((r) => r.serial);
      // Compare-and-set: an intent recorded meanwhile (it was not dead after all) is left as it is.
      const stillPending = (await trx('certificates').select('serial').whereIn('serial', serials).where({ status: 'pending' })).map((r: { serial: string }) => r.serial);
      await trx('certificates').whereIn('serial', stillPending).where({ status: 'pending' }).update({ status: 'failed' });
      const sweptNow = rows.filter((r) => stillPending.includes(r.serial));
      await deps.audit.recordManyIn(
        trx,
        sweptNow.map((r) => ({
          actor: 'system:sweeper',
          action: 'certificate.issue',
          target: r.serial,
          outcome: 'failure' as const,
          details: { reason: 'abandoned: the request that recorded this intent died before its certificate was recorded', issuer: r.issuer, profile: r.profile, identity: r.identity, recordedAt: new Date(Number(r.created_at)).toISOString() },
        })),
      );
      swept += sweptNow.length;
    });
    if (rows.length < CHUNK) return swept;
  }
}
