import { inTransaction } from '../store/handle.js';
import type { AuditLog } from '../audit/log.js';
import type { Clock } from '../base/clock.js';
import type { Store } from '../store/handle.js';
import { HallmarkError } from '../base/errors.js';
import type { ReasonName } from '../x509/revocation-reasons.js';
import { metrics } from '../observability/metrics.js';
import { markKeyCompromised } from '../store/public-keys.js';
import { findCertificate, releaseFromHold, revokeIfStatus } from '../store/certificates.js';
import { publicKeyId } from '../x509/key-id.js';
import { x509 } from '../x509/crypto-provider.js';

/** Told about every status change: the CRL updater and the OCSP cache listen. */
/** Told of each status change made here; `at` is the certificate's new status_changed_at. */
export type RevocationListener = (change: { issuer: string; serial: string; at: number }) => void;

export interface RevokeDeps {
  store: Store;
  audit: AuditLog;
  clock: Clock;
  listeners: RevocationListener[];
}

export interface RevokeInput {
  serial: string;
  reason: ReasonName;
  /** When the key is known or suspected to have been compromised (RFC 5280 §5.3.2). */
  invalidityDate?: Date;
  actor: string;
  source?: string;
}

/**
 * Marks a certificate revoked and audits it in one transaction, then tells the listeners. Unknown,
 * never-issued and already revoked certificates are refused; a certificate on hold may be revoked
 * for good with another reason.
 */
export async function revokeCertificate(deps: RevokeDeps, input: RevokeInput) {
  // Whole seconds: CRL and OCSP times carry no fractions (RFC 5280 §5.1.2.4, §4.1.2.5.2).
  const now = new Date(Math.floor(deps.clock.now().getTime() / 1000) * 1000);
  if (input.invalidityDate && input.invalidityDate > now) throw new HallmarkError('invalid_request', 'the invalidity date cannot be in the future', 400);
  const changedAt = deps.clock.now().getTime();
  const row = await inTransaction(deps.store, async (trx) => {
    const current = await findCertificate(trx, input.serial);
    if (!current) throw new HallmarkError('not_found', `no certificate with serial ${input.serial}`, 404);
    if (current.status === 'pending' || current.status === 'failed') throw new HallmarkError('not_issued', `certificate ${input.serial} was never issued (status ${current.status})`, 409);
    const onHold = current.status === 'revoked' && current.revocation_reason === 'certificateHold';
    if (current.status === 'revoked' && !(onHold && input.reason !== 'certificateHold')) {
      throw new HallmarkError('already_revoked', `certificate ${input.serial} is already revoked (${current.revocation_reason})`, 409);
    }
    // Compare-and-set on the status seen above: two revocations racing cannot both succeed.
    const updated = await revokeIfStatus(trx, input.serial, current.status, {
      revoked_at: onHold ? current.revoked_at : now.getTime(),
      revocation_reason: input.reason,
      invalidity_date: input.invalidityDate ? Math.floor(input.invalidityDate.getTime() / 1000) * 1000 : null,
      status_changed_at: changedAt,
    });
    if (!updated) throw new HallmarkError('conflict', `certificate ${input.serial} changed while being revoked; try again`, 409);
    // A compromised key is refused for ever, under any identity (docs/security-model.md, "Issuance policy").
    if (input.reason === 'keyCompromise' && current.der) {
      const spki = new Uint8Array(new x509.X509Certificate(new Uint8Array(current.der)).publicKey.rawData);
      await markKeyCompromised(trx, { keyId: publicKeyId(spki), identity: current.identity ?? `subject:${current.subject}` }, input.serial, now.getTime());
    }
    await deps.audit.recordIn(trx, {
      actor: input.actor,
      action: 'certificate.revoke',
      target: input.serial,
      outcome: 'success',
      source: input.source,
      details: { issuer: current.issuer, identity: current.identity, reason: input.reason, invalidityDate: input.invalidityDate?.toISOString(), fromHold: onHold },
    });
    return current;
  });
  metrics.certificatesRevoked.inc({ reason: input.reason });
  for (const listener of deps.listeners) listener({ issuer: row.issuer, serial: input.serial, at: changedAt });
  return { serial: input.serial, issuer: row.issuer as string, reason: input.reason, revokedAt: now };
}

/**
 * Revokes a certificate unless it is revoked already (by another instance's sweep, or an operator):
 * for Hallmark's own housekeeping, where either way the certificate ends up revoked.
 */
export async function revokeUnlessRevoked(deps: RevokeDeps, input: RevokeInput): Promise<void> {
  await revokeCertificate(deps, input).catch((e: unknown) => {
    if (!(e instanceof HallmarkError && e.code === 'already_revoked')) throw e;
  });
}

/** Releases a certificateHold: the certificate is good again (RFC 5280 §5.3.1; absent from the next CRL). */
export async function releaseHold(deps: RevokeDeps, input: { serial: string; actor: string; source?: string }) {
  const changedAt = deps.clock.now().getTime();
  const issuer = await inTransaction(deps.store, async (trx) => {
    const current = await findCertificate(trx, input.serial);
    if (!current) throw new HallmarkError('not_found', `no certificate with serial ${input.serial}`, 404);
    if (current.status !== 'revoked' || current.revocation_reason !== 'certificateHold') {
      throw new HallmarkError('not_on_hold', `certificate ${input.serial} is not on hold`, 409);
    }
    await releaseFromHold(trx, input.serial, changedAt);
    await deps.audit.recordIn(trx, { actor: input.actor, action: 'certificate.release', target: input.serial, outcome: 'success', source: input.source, details: { issuer: current.issuer } });
    return current.issuer as string;
  });
  for (const listener of deps.listeners) listener({ issuer, serial: input.serial, at: changedAt });
  return { serial: input.serial, issuer };
}
