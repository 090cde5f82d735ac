import { concatBytes, derSetOrder, tlv } from './der.js';


// DER of the fixed parts: OIDs id-signedData and id-data, version 1, empty digestAlgorithms and signerInfos.
const OID_SIGNED_DATA = Uint8Array.of(0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02);
const VERSION_1 = Uint8Array.of(0x02, 0x01, 0x01);
const EMPTY_SET = Uint8Array.of(0x31, 0x00);
const ENCAP_DATA = Uint8Array.of(0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01);

/**
 * A degenerate, certs-only CMS SignedData (RFC 5652 §5, RFC 7030 §4.1.3): no signers, no content,
 * just the certificates. `certificates` is a SET OF, so DER (RFC 8951 §3) puts them in the order of
 * their encodings (X.690 §11.6), not the order given. Spliced from the certificates' own bytes (every EST
 * enrollment answers with one; building it through pkijs parsed and re-encoded each certificate and
 * cost a millisecond a response). test/fast-issuance.test.ts compares it with pkijs's encoding
 * (test/helpers/reference-encoders.ts).
 */
export function certsOnly(certificates: Uint8Array[]): Uint8Array {
  const signedData = tlv(0x30, concatBytes([VERSION_1, EMPTY_SET, ENCAP_DATA, tlv(0xa0, concatBytes(derSetOrder(certificates))), EMPTY_SET]));
  return tlv(0x30, concatBytes([OID_SIGNED_DATA, tlv(0xa0, signedData)]));
}

/** The same with CRLs instead (`crls [1]`): SCEP's GetCRL answer (RFC 8894 §3.3.2.2). */
export function crlsOnly(crls: Uint8Array[]): Uint8Array {
  const signedData = tlv(0x30, concatBytes([VERSION_1, EMPTY_SET, ENCAP_DATA, tlv(0xa1, concatBytes(derSetOrder(crls))), EMPTY_SET]));
  return tlv(0x30, concatBytes([OID_SIGNED_DATA, tlv(0xa0, signedData)]));
}
