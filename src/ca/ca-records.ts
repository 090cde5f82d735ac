import { inTransaction, type Store, type StoreTx } from '../store/handle.js';
import { createIssuanceStore, type CertificateIntent } from '../store/certificates.js';
import type { CaRow, CaStore } from '../store/cas.js';

/**
 * A CA certificate, like every other, is recorded before its issuer's key signs it: the intent (its
 * exact TBSCertificate, status pending) in a transaction of its own, then the signed certificate in
 * the transaction that records the CA. A ceremony that stops in between leaves a pending intent that
 * the sweeper marks failed (ca/abandoned-intents.ts), never a signature nobody recorded.
 */
export function caRecords(store: Store, requestedBy: string) {
  const issuance = createIssuanceStore(store);
  const recorded = new Set<string>();
  return {
    recordIntent: async (intent: CertificateIntent) => {
      await inTransaction(store, (tx) => issuance.recordIntents(tx, [{ ...intent, requested_by: requestedBy }]));
      recorded.add(intent.serial);
    },
    /** The CA row, and its certificate as issued when its intent was recorded (a root has none). */
    async recordCa(tx: StoreTx, cas: CaStore, row: CaRow): Promise<void> {
      await cas.insert(tx, row);
      if (recorded.has(row.serial)) await issuance.recordIssued([{ serial: row.serial, der: new Uint8Array(row.certificate) }], row.created_at, tx);
    },
    /** Certificates signed after their intents were recorded (links whose issuer was recorded first). */
    recordIssued: (tx: StoreTx, certificates: { serial: string; der: Uint8Array }[], at: number) =>
      certificates.length ? issuance.recordIssued(certificates, at, tx) : Promise.resolve(),
    isRecorded: (serial: string) => recorded.has(serial),
  };
}
