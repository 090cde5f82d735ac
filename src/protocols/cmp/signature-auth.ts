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
  const { der, certificate } = signerCertificate(message);
  const serial = normalizeSerial(certificate.serialNumber);
  const row = serial ? await findCertificate(store, serial) : undefined;
  if (!row?.der || !Buffer.from(row.der).equals(der)) throw new CmpFailure('signerNotTrusted', 'the signer\'s certificate was not issued here');
  if (row.status !== 'active') throw new CmpFailure('certRevoked', `the signer's certificate ${row.serial} is ${row.status}`);
  if (Number(row.not_after) <= now.getTime()) throw new CmpFailure('signerNotTrusted', `the signer's certificate ${row.serial} has expired`);
  verifyMessageSignature(certificate, message, raw, `the certificate ${row.serial}`);
  return row;
}

/** The signer's certificate: the first in extraCerts (RFC 9483 §3.3). */
function signerCertificate(message: PKIMessage): { der: Uint8Array; certificate: x509.X509Certificate } {
  const first = message.extraCerts?.[0];
  if (!first) throw new CmpFailure('badMessageCheck', 'a signature-protected message carries its signer\'s certificate first in extraCerts (RFC 9483 §3.3)');
  const der = new Uint8Array(first);
  try {
    return { der, certificate: new x509.X509Certificate(der) };
  } catch {
    throw new CmpFailure('badDataFormat', 'the first certificate in extraCerts cannot be read');
  }
}

/** Checked as a CSR's signature is (x509/csr-parse.ts): the certificate's key, the algorithm as sent, the ProtectedPart as sent. */
function verifyMessageSignature(certificate: x509.X509Certificate, message: PKIMessage, raw: RawMessage, what: string): void {
  const spki = new Uint8Array(certificate.publicKey.rawData);
  const algorithm = new Uint8Array(AsnConvert.serialize(message.header.protectionAlg!));
  const bytes = concatBytes([spki, raw.protectedPart, algorithm]);
  const checked = verifySignedByKey(bytes, readTlv(bytes, 0), bytes.subarray(spki.length, spki.length + raw.protectedPart.length), readTlv(bytes, spki.length + raw.protectedPart.length), new Uint8Array(message.protection!));
  if ('code' in checked) throw new CmpFailure('badMessageCheck', `the message signature does not verify with ${what}: ${checked.message.replace(/CSR /g, '')}`);
}

/**
 * An ir signed with a manufacturer's device certificate (IDevID, IEEE 802.1AR): issued by one of the
 * configured bootstrap CAs (est.bootstrapCas, as for EST), within its validity; the device is its CN.
 */
export async function manufacturerAuthenticated(bootstrapCas: Uint8Array[], message: PKIMessage, raw: RawMessage, now: Date): Promise<{ device: string }> {
  const { certificate } = signerCertificate(message);
  const anchors = bootstrapCas.map((der) => new x509.X509Certificate(der)).filter((ca) => ca.subject === certificate.issuer);
  let trusted = false;
  for (const anchor of anchors) if (await certificate.verify({ publicKey: anchor.publicKey, signatureOnly: true })) trusted = true;
  if (!trusted) throw new CmpFailure('signerNotTrusted', 'the signer\'s certificate was not issued here nor by a manufacturer (bootstrap) CA');
  // As for messageTime, ten minutes of clock difference are forgiven at the start of its validity.
  if (certificate.notBefore.getTime() > now.getTime() + 10 * 60_000 || certificate.notAfter <= now) throw new CmpFailure('signerNotTrusted', 'the manufacturer certificate is outside its validity');
  verifyMessageSignature(certificate, message, raw, 'the manufacturer certificate');
  const device = certificate.subjectName.getField('CN')[0];
  if (!device) throw new CmpFailure('badRequest', 'the manufacturer certificate has no CN to name the device');
  return { device };
}
