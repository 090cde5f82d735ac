import { isoTime } from '../base/iso-time.js';
import { X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate, ExtendedKeyUsage, KeyUsage, KeyUsageFlags, id_ce_extKeyUsage, id_ce_keyUsage } from '@peculiar/asn1-x509';
import type { CertificateRow } from '../store/certificates.js';
import { toPem } from '../x509/pem.js';

const EKU_NAMES: Record<string, string> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
  '1.3.6.1.5.5.7.3.28': 'cmcRA',
  '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
};

/** keyUsage bits and extendedKeyUsage purposes by name (node's X509Certificate.keyUsage is the extended one only). */
function usagesOf(der: Uint8Array): { keyUsage: string[]; extendedKeyUsage: string[] } {
  const extensions = AsnConvert.parse(der, Certificate).tbsCertificate.extensions ?? [];
  const ku = extensions.find((e) => e.extnID === id_ce_keyUsage);
  const eku = extensions.find((e) => e.extnID === id_ce_extKeyUsage);
  const bits = ku ? AsnConvert.parse(ku.extnValue, KeyUsage).toNumber() : 0;
  return {
    keyUsage: Object.entries(KeyUsageFlags)
      .filter(([name, flag]) => typeof flag === 'number' && Number.isNaN(Number(name)) && (bits & flag) !== 0)
      .map(([name]) => name),
    extendedKeyUsage: eku ? AsnConvert.parse(eku.extnValue, ExtendedKeyUsage).map((oid) => EKU_NAMES[oid] ?? oid) : [],
  };
}

/** The certificate as OpenSSL reads it (what an operator checks against what was asked for). */
function decode(der: Uint8Array) {
  const cert = new X509Certificate(Buffer.from(der));
  const usages = usagesOf(der);
  return {
    subject: cert.subject.split('\n').join(', '),
    issuer: cert.issuer.split('\n').join(', '),
    serialNumber: cert.serialNumber,
    validFrom: new Date(cert.validFrom).toISOString(),
    validTo: new Date(cert.validTo).toISOString(),
    subjectAltName: cert.subjectAltName ?? null,
    keyUsage: usages.keyUsage,
    extendedKeyUsage: usages.extendedKeyUsage,
    publicKey: `${cert.publicKey.asymmetricKeyType}${cert.publicKey.asymmetricKeyDetails?.namedCurve ? ` ${cert.publicKey.asymmetricKeyDetails.namedCurve}` : cert.publicKey.asymmetricKeyDetails?.modulusLength ? ` ${cert.publicKey.asymmetricKeyDetails.modulusLength}` : ''}`,
    fingerprintSha256: cert.fingerprint256,
    ca: cert.ca,
  };
}

/** `expired` is derived, never stored: an active certificate past its notAfter. */
export const effectiveStatus = (status: string, notAfter: number, now: number): string => (status === 'active' && notAfter <= now ? 'expired' : status);

/** A stored certificate as people and scripts see it. */
export function certificateView(row: CertificateRow, now: Date, withPem = false) {
  const notAfter = Number(row.not_after);
  const status = effectiveStatus(row.status, notAfter, now.getTime());
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
    issuedAt: isoTime(row.issued_at),
    requestedBy: row.requested_by,
    revokedAt: isoTime(row.revoked_at),
    revocationReason: row.revocation_reason,
    ...(withPem ? { certificate: row.der ? toPem(row.der, 'CERTIFICATE') : null, decoded: row.der ? decode(row.der) : null } : {}),
  };
}
