import type { Store, StoreTx } from '../store/handle.js';
import type { VerifiedCsr } from '../x509/csr.js';
import { HallmarkError } from '../base/errors.js';
import { consumeEnrollmentToken, recordTokenUse, releaseEnrollmentToken } from '../auth/enrollment-tokens.js';
import { markEnrollmentIssued } from '../store/enrollments.js';
import { issueCertificate, type IssueDeps, type IssuedCertificate } from './issue.js';
import type { AttestedKey } from '../attestation/attested-key.js';
import type { BindingRecord } from '../attestation/binding.js';

/** Who enrolls: the one-time secret presented (by id), or a bootstrap certificate (nothing to consume). */
export type Enroller = { device: string; secretId?: string };

/**
 * A device's enrollment (EST simpleenroll and serverkeygen, REST /enroll): its one-time secret is
 * taken before issuing (of two requests, one wins it), its use and the held request this answers
 * (RFC 7030 §4.2.3) are recorded in the transaction that records the certificate, and the secret is
 * given back when nothing was issued.
 */
export async function enrollDevice(
  deps: { issue: IssueDeps; store: Store },
  input: {
    enroller: Enroller;
    csr: VerifiedCsr;
    profile: string;
    actor: string;
    source?: string;
    heldRequest?: string;
    /** The key's TPM attestation, and what to record of it with the certificate (attestation/binding.ts). */
    attestation?: { key: AttestedKey; record: BindingRecord };
  },
): Promise<IssuedCertificate> {
  const { enroller, heldRequest, attestation } = input;
  // Only when there is something to record: a certificate alone is recorded in one statement, with no
  // transaction around it (ca/issue.ts), which matters at EST's rates.
  const recordWith =
    enroller.secretId || heldRequest || attestation
      ? async (tx: StoreTx, issued: IssuedCertificate) => {
          if (enroller.secretId) await recordTokenUse(tx, enroller.secretId, issued.serial);
          if (heldRequest) await markEnrollmentIssued(tx, heldRequest, issued.serial);
          if (attestation) await attestation.record(tx, issued.serial);
        }
      : undefined;
  const issue = () => issueCertificate(deps.issue, { csr: input.csr, profile: input.profile, identity: enroller.device, requester: { kind: 'enrollment' }, actor: input.actor, source: input.source, recordWith, attestation: attestation?.key });
  if (!enroller.secretId) return issue();
  if (!(await consumeEnrollmentToken(deps.store, enroller.secretId, deps.issue.clock.now()))) throw new HallmarkError('enrollment_refused', 'enrollment secret was already used', 403);
  try {
    return await issue();
  } catch (e) {
    await releaseEnrollmentToken(deps.store, enroller.secretId);
    throw e;
  }
}
