import { AsnConvert } from '@peculiar/asn1-schema';
import { type Certificate, id_ce_subjectKeyIdentifier, SubjectKeyIdentifier } from '@peculiar/asn1-x509';

/** The certificate's subjectKeyIdentifier (every certificate Hallmark makes has one): the responder's senderKID (RFC 9483 §3.1). */
export function subjectKeyIdentifierOf(certificate: Certificate): Uint8Array {
  const extension = certificate.tbsCertificate.extensions?.find((e) => e.extnID === id_ce_subjectKeyIdentifier);
  if (!extension) return new Uint8Array();
  return new Uint8Array(AsnConvert.parse(extension.extnValue, SubjectKeyIdentifier).buffer);
}
