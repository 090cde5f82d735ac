import * as pkijs from 'pkijs';
import type { Extension } from '@peculiar/asn1-x509';
import { subjectAltName, subjectKeyIdentifier } from '../../src/x509/extensions.js';
import { constantLeafExtensions, type LeafExtensionInput } from '../../src/ca/leaf-extensions.js';
import { derSetOrder } from '../../src/x509/der.js';

/**
 * Reference encodings built with the schema libraries, which the fast encoders of src/ (splices of
 * precomputed bytes) are tested against.
 */

const ID_DATA = '1.2.840.113549.1.7.1';
const ID_SIGNED_DATA = '1.2.840.113549.1.7.2';

/**
 * The extensions of an end-entity certificate, all from the profile; nothing is copied from a CSR.
 * Issuance splices them (src/ca/leaf-template.ts); this schema-object form is what the splice is tested against.
 */
export function leafExtensions(input: LeafExtensionInput): Extension[] {
  const { head, authorityKeyId, tail } = constantLeafExtensions(input);
  const { dns, uri, ip, email } = input.draft.names;
  const san = dns.length + uri.length + ip.length + email.length > 0 ? [subjectAltName(input.draft.names, input.draft.subject.length === 0)] : [];
  return [...head, subjectKeyIdentifier(input.subjectKeyId), authorityKeyId, ...san, ...tail];
}

/** A certs-only SignedData through pkijs: what src/x509/pkcs7.ts's splice must equal. */
export function certsOnlyReference(certificates: Uint8Array[]): Uint8Array {
  const signedData = new pkijs.SignedData({
    version: 1,
    encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: ID_DATA }),
    // pkijs keeps the order given: sorted here, as DER wants the SET.
    certificates: derSetOrder(certificates).map((der) => pkijs.Certificate.fromBER(new Uint8Array(der))),
    signerInfos: [],
  });
  const contentInfo = new pkijs.ContentInfo({ contentType: ID_SIGNED_DATA, content: signedData.toSchema(true) });
  return new Uint8Array(contentInfo.toSchema().toBER(false));
}
