import type { AuditLog } from '../audit/log.js';
import type { Db } from '../store/db.js';
import { HallmarkError } from '../errors.js';

/**
 * An operator lets one certificate renew now, before its renewal window opens (a device that must get
 * a new certificate today): used by the next renewal of that certificate, then gone. Audited.
 */
export async function allowRenewal(deps: { db: Db; audit: AuditLog }, input: { serial: string; actor: string; source?: string; now: Date }): Promise<void> {
  await deps.db.transaction(async (trx) => {
    const row = await trx('certificates').where({ serial: input.serial }).first('status');
    if (!row) throw new HallmarkError('not_found', `no certificate with serial ${input.serial}`, 404);
    if (row.status !== 'active') throw new HallmarkError('not_renewable', `certificate ${input.serial} is ${row.status}; only an active certificate renews`, 409);
    await trx('renewal_grants').insert({ serial: input.serial, granted_by: input.actor, granted_at: input.now.getTime() }).onConflict('serial').merge();
    await deps.audit.recordIn(trx, { actor: input.actor, action: 'certificate.allow-renewal', target: input.serial, outcome: 'success', source: input.source });
  });
}

export async function renewalGranted(db: Db, serial: string): Promise<boolean> {
  return Boolean(await db('renewal_grants').where({ serial }).first('serial'));
}

export const spendRenewalGrant = (db: Db, serial: string) => db('renewal_grants').where({ serial }).del();
