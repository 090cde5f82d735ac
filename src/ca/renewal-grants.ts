import { inTransaction } from '../store/handle.js';
import type { AuditLog } from '../audit/log.js';
import type { Store } from '../store/handle.js';
import { HallmarkError } from '../base/errors.js';
import { grantRenewal } from '../store/enrollments.js';
import { findCertificate } from '../store/certificates.js';

export { renewalGranted, spendRenewalGrant } from '../store/enrollments.js';

/**
 * An operator lets one certificate renew now, before its renewal window opens (a device that must get
 * a new certificate today): used by the next renewal of that certificate, then gone. Audited.
 */
export async function allowRenewal(deps: { store: Store; audit: AuditLog }, input: { serial: string; actor: string; source?: string; now: Date }): Promise<void> {
  await inTransaction(deps.store, async (trx) => {
    const row = await findCertificate(trx, input.serial);
    if (!row) throw new HallmarkError('not_found', `no certificate with serial ${input.serial}`, 404);
    if (row.status !== 'active') throw new HallmarkError('not_renewable', `certificate ${input.serial} is ${row.status}; only an active certificate renews`, 409);
    await grantRenewal(trx, { serial: input.serial, granted_by: input.actor, granted_at: input.now.getTime() });
    await deps.audit.recordIn(trx, { actor: input.actor, action: 'certificate.allow-renewal', target: input.serial, outcome: 'success', source: input.source });
  });
}
