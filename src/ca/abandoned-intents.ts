import { inTransaction } from '../store/handle.js';
import type { AuditLog } from '../audit/log.js';
import type { Store } from '../store/handle.js';
import { failPendingIntents, pendingIntentsBefore } from '../store/certificates.js';

const CHUNK = 400;

/**
 * Intents whose request died before its certificate was recorded (a crash, a killed instance) stay
 * `pending` for ever otherwise. Older than `cutoff`, none of them can still be signing (a batch of a
 * thousand signs in about a second): each is marked failed and audited. None was returned to anyone
 * (a certificate is returned only once recorded), so nothing a client holds is touched.
 */
export async function sweepAbandonedIntents(deps: { store: Store; audit: AuditLog }, cutoff: number): Promise<number> {
  let swept = 0;
  for (;;) {
    const rows = await pendingIntentsBefore(deps.store, cutoff, CHUNK);
    if (!rows.length) return swept;
    await inTransaction(deps.store, async (trx) => {
      // Compare-and-set: an intent recorded meanwhile (it was not dead after all) is left as it is.
      const stillPending = await failPendingIntents(trx, rows.map((r) => r.serial));
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
