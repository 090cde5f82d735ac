import { createHash, verify, X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { ContentInfo, SignedData, id_data, id_signedData, id_messageDigest, id_signingTime, type SignerInfo } from '@peculiar/asn1-cms';
import { Time } from '@peculiar/asn1-x509';
import { children, content, DerError, expectTag, readTlv, whole } from '../../x509/der-reader.js';
import { HallmarkError } from '../../base/errors.js';
import { ScepFailure } from './failure.js';
import { SCEP_ATTRIBUTES } from './attributes.js';

/** Digests a request may be signed with (GetCACaps offers SHA-256 and SHA-512; SHA-1 and MD5 are refused). */
const DIGESTS: Record<string, string> = { '2.16.840.1.101.3.4.2.1': 'sha256', '2.16.840.1.101.3.4.2.2': 'sha384', '2.16.840.1.101.3.4.2.3': 'sha512' };
/** Signature algorithms: the key's (rsaEncryption, with the digest algorithm) or the combined OIDs. */
const SIGNATURES: Record<string, string | null> = {
  '1.2.840.113549.1.1.1': null,
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
};

/** A SCEP pkiMessage (RFC 8894 §3.2) as read before its signature is trusted. */
export interface PkiMessage {
  messageType: string;
  transactionId: string;
  senderNonce: Uint8Array;
  /** The certificate the message is signed with (self-signed for PKCSReq, the current one for RenewalReq). */
  signerCertificate: Uint8Array;
  /** The pkcsPKIEnvelope (EnvelopedData DER). */
  envelope: Uint8Array;
}

const MAX_CLOCK_SKEW_MS = 24 * 3_600_000;

const garbage = (why: string) => new HallmarkError('invalid_scep_message', `not a SCEP pkiMessage: ${why}`, 400);

/** A printable attribute value (PrintableString, or UTF8String from lenient clients). */
function text(value: ArrayBuffer): string {
  const bytes = new Uint8Array(value);
  const t = readTlv(bytes, 0);
  if (t.tag !== 0x13 && t.tag !== 0x0c) throw new DerError('not a PrintableString');
  return Buffer.from(content(bytes, t)).toString('latin1');
}
function octets(value: ArrayBuffer): Uint8Array {
  const bytes = new Uint8Array(value);
  return new Uint8Array(content(bytes, expectTag(readTlv(bytes, 0), 0x04, 'nonce')));
}

/**
 * Reads a pkiMessage and checks it (RFC 8894 §3.1, RFC 5652 §5.4): one signer, whose certificate travels
 * in the message; the signed attributes carry messageType, transactionID and senderNonce, and a
 * messageDigest of the content; the signature over their DER verifies with that certificate's key.
 * What is not a SignedData at all is a 400; what is one but does not hold together is a SCEP failure
 * (answered, since the transaction and nonce could be read): badMessageCheck, or badAlg for a digest
 * or signature algorithm it does not take.
 */
export function readPkiMessage(der: Uint8Array, now: Date): PkiMessage & { failure?: ScepFailure } {
  let signedData: SignedData;
  let signerInfo: SignerInfo;
  let rawAttributes: Uint8Array;
  try {
    const info = AsnConvert.parse(der, ContentInfo);
    if (info.contentType !== id_signedData) throw garbage('the ContentInfo is not SignedData');
    signedData = AsnConvert.parse(info.content, SignedData);
    if (signedData.signerInfos.length !== 1) throw garbage('a pkiMessage has exactly one signer');
    signerInfo = signedData.signerInfos[0]!;
    // The signed attributes exactly as sent ([0] IMPLICIT SET OF): the signature is over their DER with the SET tag (RFC 5652 §5.4).
    const top = readTlv(der, 0);
    if (top.end !== der.length) throw garbage('bytes after the message');
    const sdTlv = expectTag(children(der, expectTag(children(der, top)[1], 0xa0, 'content'))[0], 0x30, 'SignedData');
    const infos = children(der, sdTlv).at(-1)!;
    const signer = children(der, expectTag(children(der, expectTag(infos, 0x31, 'signerInfos'))[0], 0x30, 'SignerInfo'));
    const attrs = signer.find((t) => t.tag === 0xa0);
    if (!attrs) throw garbage('the signer has no signed attributes');
    rawAttributes = new Uint8Array(whole(der, attrs));
    rawAttributes[0] = 0x31;
  } catch (e) {
    if (e instanceof HallmarkError) throw e;
    throw garbage((e as Error).message);
  }
  const attribute = (oid: string) => signerInfo.signedAttrs?.find((a) => a.attrType === oid)?.attrValues[0];
  let messageType: string, transactionId: string, senderNonce: Uint8Array;
  try {
    const type = attribute(SCEP_ATTRIBUTES.messageType);
    const transaction = attribute(SCEP_ATTRIBUTES.transactionID);
    const nonce = attribute(SCEP_ATTRIBUTES.senderNonce);
    if (!type || !transaction || !nonce) throw garbage('messageType, transactionID and senderNonce are required signed attributes (RFC 8894 §3.2.1)');
    messageType = text(type);
    transactionId = text(transaction);
    senderNonce = octets(nonce);
  } catch (e) {
    if (e instanceof HallmarkError) throw e;
    throw garbage(`an attribute is malformed: ${(e as Error).message}`);
  }
  if (!transactionId || transactionId.length > 128) throw garbage('transactionID is empty or longer than 128 characters');
  const eContent = signedData.encapContentInfo.eContent;
  let envelope: Uint8Array;
  try {
    envelope = eContent?.single ? new Uint8Array(eContent.single.buffer) : eContent?.any ? octetStringValue(new Uint8Array(eContent.any)) : new Uint8Array();
  } catch (e) {
    throw garbage(`the content is not an OCTET STRING: ${(e as Error).message}`);
  }
  // The signer's certificate, found by issuer and serial among those the message carries.
  const sid = signerInfo.sid.issuerAndSerialNumber;
  const carried = (signedData.certificates ?? []).flatMap((c) => (c.certificate ? [c.certificate] : []));
  const found = sid ? carried.find((c) => Buffer.compare(Buffer.from(c.tbsCertificate.serialNumber), Buffer.from(sid.serialNumber)) === 0 && Buffer.compare(Buffer.from(AsnConvert.serialize(c.tbsCertificate.issuer)), Buffer.from(AsnConvert.serialize(sid.issuer))) === 0) : undefined;
  const base = { messageType, transactionId, senderNonce, envelope, signerCertificate: found ? new Uint8Array(AsnConvert.serialize(found)) : new Uint8Array() };
  const fail = (failInfo: ScepFailure['failInfo'], why: string) => ({ ...base, failure: new ScepFailure(failInfo, why) });
  if (!found) return fail('badMessageCheck', 'the message does not carry its signer\'s certificate');
  if (signedData.encapContentInfo.eContentType !== id_data) return fail('badMessageCheck', 'the signed content is not id-data');
  const digest = DIGESTS[signerInfo.digestAlgorithm.algorithm];
  if (!digest) return fail('badAlg', `digest ${signerInfo.digestAlgorithm.algorithm}: SHA-256, SHA-384 or SHA-512 (GetCACaps)`);
  const signatureHash = SIGNATURES[signerInfo.signatureAlgorithm.algorithm];
  if (signatureHash === undefined) return fail('badAlg', `signature algorithm ${signerInfo.signatureAlgorithm.algorithm}: RSA or ECDSA with SHA-2`);
  const messageDigest = attribute(id_messageDigest);
  if (!messageDigest || Buffer.compare(Buffer.from(octets(messageDigest)), createHash(digest).update(envelope).digest()) !== 0) return fail('badMessageCheck', 'the messageDigest attribute is not the digest of the content');
  let ok = false;
  try {
    ok = verify(signatureHash ?? digest, rawAttributes, new X509Certificate(Buffer.from(base.signerCertificate)).publicKey, Buffer.from(signerInfo.signature.buffer));
  } catch {
    ok = false;
  }
  if (!ok) return fail('badMessageCheck', 'the signature does not verify with the signer\'s certificate');
  // badTime (§3.2.1.4): a signingTime, when the message has one, within a day of ours (device clocks drift before they enroll).
  const signingTime = attribute(id_signingTime);
  if (signingTime) {
    let at: number;
    try {
      at = AsnConvert.parse(signingTime, Time).getTime().getTime();
    } catch {
      return fail('badMessageCheck', 'the signingTime attribute is malformed');
    }
    if (Math.abs(at - now.getTime()) > MAX_CLOCK_SKEW_MS) return fail('badTime', `the message was signed at ${new Date(at).toISOString()}, more than a day from this server's time`);
  }
  return base;
}

/**
 * An OCTET STRING's value: primitive, or (BER, as pkijs and other CMS encoders write large contents)
 * constructed from segments, concatenated (X.690 §8.7.3). The messageDigest is over this value (RFC 5652 §5.4).
 */
function octetStringValue(bytes: Uint8Array, at = readTlv(bytes, 0)): Uint8Array {
  if (at.tag === 0x04) return bytes.subarray(at.contentStart, at.end);
  if (at.tag !== 0x24) throw new DerError(`tag 0x${at.tag.toString(16)}`);
  return Buffer.concat(children(bytes, at).map((segment) => octetStringValue(bytes, segment)));
}

/** The subject public key of a certificate (DER SubjectPublicKeyInfo). */
export const certificateSpki = (der: Uint8Array): Uint8Array => new Uint8Array(AsnConvert.serialize(AsnConvert.parse(der, Certificate).tbsCertificate.subjectPublicKeyInfo));
