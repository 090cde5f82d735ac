import * as asn1js from 'asn1js';

/**
 * The exact DER of TBSCertificate fields of a certificate, without re-encoding: what goes into a CRL
 * issuer, an OCSP issuerNameHash or a child's issuer must be these bytes (RFC 5280 §7.1).
 */
function tbsFields(certificate: Uint8Array): asn1js.AsnType[] {
  const parsed = asn1js.fromBER(new Uint8Array(certificate));
  if (parsed.offset === -1) throw new Error('certificate is not valid DER');
  const tbs = (parsed.result as asn1js.Sequence).valueBlock.value[0] as asn1js.Sequence;
  return tbs.valueBlock.value;
}

// TBSCertificate: [0] version, serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, …
export const rawSubject = (certificate: Uint8Array) => new Uint8Array(tbsFields(certificate)[5]!.valueBeforeDecodeView);
export const rawIssuer = (certificate: Uint8Array) => new Uint8Array(tbsFields(certificate)[3]!.valueBeforeDecodeView);

/** The subjectPublicKey BIT STRING contents (what OCSP's issuerKeyHash and key identifiers hash). */
export function subjectPublicKeyBits(certificate: Uint8Array): Uint8Array {
  const spki = tbsFields(certificate)[6] as asn1js.Sequence;
  const bits = spki.valueBlock.value[1] as asn1js.BitString;
  return new Uint8Array(bits.valueBlock.valueHexView);
}
