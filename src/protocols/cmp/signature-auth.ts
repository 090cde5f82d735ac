import { AsnConvert } from '@peculiar/asn1-schema';
import { findCertificate, type CertificateRow } from '../../store/certificates.js';
import type { Handle } from '../../store/handle.js';
import { x509 } from '../../x509/crypto-provider.js';
import { readTlv } from '../../x509/der-reader.js';
import { concatBytes } from '../../x509/der.js';
import { verifySignedByKey } from '../../x509/csr-parse.js';
import { normalizeSerial } from '../../x509/serial.js';
import type { PKIMessage } from './asn1.js';
import { CmpFailure } from './failure.js';
import type { RawMessage } from './request.js';

/**
 * A request signed with a certificate Hallmark issued (kur, rr, and what continues their transactions):
 * the signer's certificate comes first in extraCerts (RFC 9483 §3.3), must be the very certificate
 * recorded here, active and unexpired, and its key must have signed the ProtectedPart as sent.
 */
export async function signatureAuthenticated(store: Handle, message: PKIMessage, raw: RawMessage, now: Date): Promise<CertificateRow> {
  const first = message.extraCerts?.[0];
  if (!first) throw new CmpFailure('badMessageCheck', 'a signature-protected message carries its signer\'s certificate first in extraCerts (RFC 9483 §3.3)');
  const der = new Uint8Array(first);
  let certificate: x509.X509Certificate;
  try {
    certificate = new x509.X509Certificate(der);
  } catch {
    throw new CmpFailure('badDataFormat', 'the first certificate in extraCerts cannot be read');
  }
  const serial = normalizeSerial(certificate.serialNumber);
  const row = serial ? await findCertificate(store, serial) : undefined;
  if (!row?.der || !Buffer.from(row.der).equals(der)) throw new CmpFailure('signerNotTrusted', 'the signer\'s certificate was not issued here');
  if (row.status !== 'active') throw new CmpFailure('certRevoked', `the signer's certificate ${row.serial} is ${row.status}`);
  if (Number(row.not_after) <= now.getTime()) throw new CmpFailure('signerNotTrusted', `the signer's certificate ${row.serial} has expired`);
  // Checked as a CSR's signature is (x509/csr-parse.ts): the key, the algorithm as sent, the bytes as sent.
  const spki = new Uint8Array(certificate.publicKey.rawData);
  const algorithm = new Uint8Array(AsnConvert.serialize(message.header.protectionAlg!));
  const bytes = concatBytes([spki, raw.protectedPart, algorithm]);
  const checked = verifySignedByKey(bytes, readTlv(bytes, 0), bytes.subarray(spki.length, spki.length + raw.protectedPart.length), readTlv(bytes, spki.length + raw.protectedPart.length), new Uint8Array(message.protection!));
  if ('code' in checked) throw new CmpFailure('badMessageCheck', `the message signature does not verify with the certificate ${row.serial}: ${checked.message.replace(/CSR /g, '')}`);
  return row;
}
