import type { AuditEvent } from '../../audit/log.js';
import type { TokenCheck } from '../../auth/enrollment-tokens.js';
import type { IssuedCertificate } from '../../ca/issue.js';
import type { Enroller } from '../../ca/enrollment.js';
import type { EnrollmentRequestRow } from '../../store/enrollments.js';
import type { CertificateRow } from '../../store/certificates.js';
import type { VerifiedCsr } from '../../x509/csr.js';
import type { AttestedKey } from '../../attestation/attested-key.js';
import type { BindingRecord } from '../../attestation/binding.js';

/**
 * What device enrollment (EST, and its REST twin) needs from the CA, declared here and built by the
 * composition root (app/enrollment-ports.ts): nothing of the store, the CA keys or the whole
 * configuration reaches the protocol handlers.
 */
export interface EnrollmentPorts {
  /** RFC 7030 §4.1.3: the certs-only answer for a profile's CA family (kept between requests). */
  cacerts(profileIssuer: string): Promise<Uint8Array>;
  /** A device's one-time secret as stored: valid for this device and label, or why not. */
  checkSecret(device: string, secret: string, label: string, now: Date): Promise<TokenCheck>;
  /** Issues for an enroller: its secret consumed, its use recorded with the certificate. */
  enroll(input: { enroller: Enroller; csr: VerifiedCsr; profile: string; actor: string; source?: string; heldRequest?: string; attestation?: { key: AttestedKey; record: BindingRecord } }): Promise<IssuedCertificate>;
  /** Issues the replacement of `current`, which is marked superseded with it. */
  renew(input: { csr: VerifiedCsr; current: CertificateRow; actor: string; source?: string; namesFromProfile?: boolean }): Promise<IssuedCertificate>;
  /** RFC 7030 §4.2.3: the operator's decision on this request, recorded (and audited) when it is new. */
  hold(request: { label: string; device: string; keyId: string; subject: string; actor: string; source?: string; now: Date }): Promise<EnrollmentRequestRow>;
  /** A certificate as recorded (renewals, repeated held requests). */
  certificate(serial: string): Promise<CertificateRow | undefined>;
  audit(event: AuditEvent): Promise<void>;
}
