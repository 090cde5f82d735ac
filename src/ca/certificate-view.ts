import { X509Certificate } from 'node:crypto';
import type { CertificateRow } from '../store/certificates.js';
import { toPem } from '../x509/pem.js';

/** The certificate as OpenSSL reads it (what an operator checks against what was asked for). */
function decode(der: Uint8Array) {
  const cert = new X509Certificate(Buffer.from(der));
  return {
    subject: cert.subject.split('\n').join(', '),
    issuer: cert.issuer.split('\n').join(', '),
    serialNumber: cert.serialNumber,
    validFrom: new Date(cert.validFrom).toISOString(),
    validTo: new Date(cert.validTo).toISOString(),
    subjectAltName: cert.subjectAltName ?? null,
    keyUsage: cert.keyUsage ?? [],
    publicKey: `${cert.publicKey.asymmetricKeyType}${cert.publicKey.asymmetricKeyDetails?.namedCurve ? ` ${cert.publicKey.asymmetricKeyDetails.namedCurve}` : cert.publicKey.asymmetricKeyDetails?.modulusLength ? ` ${cert.publicKey.asymmetricKeyDetails.modulusLength}` : ''}`,
    fingerprintSha256: cert.fingerprint256,
    ca: cert.ca,
  };
}

/** A stored certificate as people and scripts see it; `expired` is derived, never stored. */
export function certificateView(row: CertificateRow, now: Date, withPem = false) {
  const notAfter = Number(row.not_after);
  const status = row.status === 'active' && notAfter <= now.getTime() ? 'expired' : row.status;
  return {
    serial: row.serial,
    status,
    issuer: row.issuer,
    profile: row.profile,
    identity: row.identity,
    subject: row.subject,
    keyType: row.key_type,
    notBefore: new Date(Number(row.not_before)).toISOString(),
    notAfter: new Date(notAfter).toISOString(),
    issuedAt: row.issued_at === null ? null : new Date(Number(row.issued_at)).toISOString(),
    requestedBy: row.requested_by,
    revokedAt: row.revoked_at === null ? null : new Date(Number(row.revoked_at)).toISOString(),
    revocationReason: row.revocation_reason,
    ...(withPem ? { certificate: row.der ? toPem(row.der, 'CERTIFICATE') : null, decoded: row.der ? decode(row.der) : null } : {}),
  };
}
