import type { AuditLog } from '../audit/log.js';
import type { Clock } from '../base/clock.js';
import type { Store, StoreTx } from '../store/handle.js';
import { claimTpmBinding, recordBindingCertificate, releaseTpmBinding } from '../store/attestation.js';
import { attestationSummary, type AttestedKey } from './attested-key.js';
import { tpmBound } from './challenge.js';

/** Records, in the transaction that records the certificate, which certificate the TPM's binding produced. */
export type BindingRecord = (tx: StoreTx, certificateSerial: string) => Promise<void>;

/**
 * One TPM, one identity: the TPM is bound to `identity` before anything is issued (of two requests for
 * one TPM, one wins), and the binding is given back when nothing was issued and this request made it.
 * `issue` gets what to record with the certificate (the binding's certificate and its audit event).
 */
export async function issueBoundToTpm<T>(deps: { store: Store; audit: AuditLog; clock: Clock }, attested: AttestedKey, who: { identity: string; actor: string; source?: string }, issue: (record: BindingRecord) => Promise<T>): Promise<T> {
  const ek = attested.ek;
  const claimed = await claimTpmBinding(deps.store, {
    ek_id: ek.id,
    identity: who.identity,
    ek_certificate_serial: ek.certificate?.serial ?? null,
    ek_issuer: ek.certificate?.issuer.slice(0, 512) ?? null,
    manufacturer: ek.certificate?.manufacturer ?? null,
    certificate_serial: null,
    bound_at: deps.clock.now().getTime(),
  });
  if (typeof claimed === 'object') throw tpmBound(claimed.boundTo);
  const record: BindingRecord = async (tx, serial) => {
    await recordBindingCertificate(tx, ek.id, serial);
    await deps.audit.recordIn(tx, { actor: who.actor, action: 'attestation.bind', target: who.identity, outcome: 'success', source: who.source, details: { certificate: serial, challenge: attested.challenge, ...attestationSummary(attested) } });
  };
  try {
    return await issue(record);
  } catch (e) {
    if (claimed === 'new') await releaseTpmBinding(deps.store, ek.id, who.identity);
    throw e;
  }
}
