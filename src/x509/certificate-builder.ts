import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Extensions, Name, SubjectPublicKeyInfo, TBSCertificate, Validity, Version, type Extension } from '@peculiar/asn1-x509';
import { derBitString, derSequence } from './der.js';
import { exactBuffer } from './bytes.js';

export interface CertificateTemplate {
  serial: Uint8Array;
  issuer: Name;
  subject: Name;
  notBefore: Date;
  notAfter: Date;
  spki: SubjectPublicKeyInfo;
  extensions: Extension[];
}

/**
 * DER TBSCertificate (RFC 5280 §4.1). Validity times are UTCTime through 2049 and GeneralizedTime
 * from 2050 (§4.1.2.5), which asn1-x509's Time does by itself.
 */
export function encodeTbsCertificate(template: CertificateTemplate, signature: AlgorithmIdentifier): Uint8Array {
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: exactBuffer(template.serial),
    signature,
    issuer: template.issuer,
    validity: new Validity({ notBefore: template.notBefore, notAfter: template.notAfter }),
    subject: template.subject,
    subjectPublicKeyInfo: template.spki,
    extensions: new Extensions(template.extensions),
  });
  return new Uint8Array(AsnConvert.serialize(tbs));
}

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue } with the signed bytes as they were. */
export function assembleSigned(tbs: Uint8Array, signature: AlgorithmIdentifier, value: Uint8Array): Uint8Array {
  return derSequence(tbs, new Uint8Array(AsnConvert.serialize(signature)), derBitString(value));
}
