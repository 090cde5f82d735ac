import type { EkIdentity } from './ek-certificate.js';

/**
 * A key proven to live in a TPM (attestation/redeem.ts): credential activation showed the AK is in the
 * TPM of this EK, and the AK's TPM2_Certify (or TPM2_CertifyCreation) over Hallmark's nonce named the
 * key, whose attributes say it never leaves the TPM. Only redeemTpmChallenge makes one; issuance
 * policy (profiles/rules/attestation-required.ts) accepts it as the only way to an attestation-only profile.
 */
export interface AttestedKey {
  readonly attested: 'tpm';
  /** The device key's SubjectPublicKeyInfo: what the certificate certifies. */
  spkiDer: Uint8Array;
  ek: EkIdentity;
  /** The challenge answered. */
  challenge: string;
  /** What the TPM said of itself when it signed (Part 2 §10.12.2 TPMS_CLOCK_INFO, firmwareVersion). */
  evidence: { kind: 'certify' | 'creation'; clock: string; resetCount: number; restartCount: number; safe: boolean; firmwareVersion: string };
}

/** How an attested key reads in audit details and answers. */
export const attestationSummary = (a: AttestedKey) => ({
  ek: a.ek.id,
  ekCertificate: a.ek.certificate ? { serial: a.ek.certificate.serial, issuer: a.ek.certificate.issuer, manufacturer: a.ek.certificate.manufacturer ?? null, model: a.ek.certificate.model ?? null } : null,
  evidence: a.evidence,
});
