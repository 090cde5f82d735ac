import * as pkijs from 'pkijs';

const ID_DATA = '1.2.840.113549.1.7.1';
const ID_SIGNED_DATA = '1.2.840.113549.1.7.2';

/**
 * A degenerate, certs-only CMS SignedData (RFC 5652 §5, RFC 7030 §4.1.3): no signers, no content,
 * just the certificates. What EST returns for cacerts and enrollments.
 */
export function certsOnly(certificates: Uint8Array[]): Uint8Array {
  const signedData = new pkijs.SignedData({
    version: 1,
    encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: ID_DATA }),
    certificates: certificates.map((der) => pkijs.Certificate.fromBER(new Uint8Array(der))),
    signerInfos: [],
  });
  const contentInfo = new pkijs.ContentInfo({ contentType: ID_SIGNED_DATA, content: signedData.toSchema(true) });
  return new Uint8Array(contentInfo.toSchema().toBER(false));
}

/** The certificates inside a certs-only SignedData (for tests and clients of our own). */
export function certificatesOf(pkcs7: Uint8Array): Uint8Array[] {
  const info = pkijs.ContentInfo.fromBER(new Uint8Array(pkcs7));
  const signed = new pkijs.SignedData({ schema: info.content });
  return (signed.certificates ?? []).map((c) => new Uint8Array((c as pkijs.Certificate).toSchema().toBER(false)));
}

