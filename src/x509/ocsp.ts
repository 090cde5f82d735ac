import { createHash } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import type { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { concatBytes, derBitString, derGeneralizedTime, derSequence, derUnsignedInteger, tlv, tlvSize, writeTlvHeader } from './der.js';
import { rawSubject, subjectPublicKeyBits } from './certificate-fields.js';
import { children, content, DerError, expectTag, oidText, readTlv, whole, type Tlv } from './der-reader.js';

/**
 * OCSP requests and responses (RFC 6960) in DER, walked and written by hand: every live answer parses
 * one request and writes one ResponseData, and a fleet's pre-signed answers are written by the million,
 * so neither goes through schema objects (which cost most of a live answer's CPU when they did).
 */

/** OCSPResponseStatus (RFC 6960 §4.2.1). */
export const OCSP_STATUS = { successful: 0, malformedRequest: 1, internalError: 2, tryLater: 3, sigRequired: 5, unauthorized: 6 } as const;

/** An unsuccessful OCSPResponse is just its status: SEQUENCE { ENUMERATED } (no responseBytes). */
export const ocspErrorResponse = (status: number) => Uint8Array.of(0x30, 0x03, 0x0a, 0x01, status);

/** DER OBJECT IDENTIFIER 1.3.6.1.5.5.7.48.1.1, id-pkix-ocsp-basic (RFC 6960 §4.2.1). */
const ID_PKIX_OCSP_BASIC = Uint8Array.of(0x06, 0x09, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01);
/** DER OBJECT IDENTIFIER 1.3.6.1.5.5.7.48.1.2, id-pkix-ocsp-nonce (RFC 8954 §2.1). */
const ID_PKIX_OCSP_NONCE = Uint8Array.of(0x06, 0x09, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x02);
const NONCE_OID = '1.3.6.1.5.5.7.48.1.2';
/** OCSPResponseStatus successful (ENUMERATED 0). */
const SUCCESSFUL = Uint8Array.of(0x0a, 0x01, 0x00);
/** AlgorithmIdentifier { id-sha1, NULL }: the CertID hash of RFC 5019 §2.1.1, as openssl writes it. */
const SHA1_ALGORITHM = Uint8Array.of(0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00);

export const HASH_OIDS: Record<string, 'sha1' | 'sha256' | 'sha384' | 'sha512'> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

export interface ParsedCertId {
  /** The CertID exactly as the client sent it: the response echoes these bytes. */
  certId: Uint8Array;
  hash: string | undefined;
  issuerNameHash: string;
  issuerKeyHash: string;
  /** Lowercase hex, leading zero octets dropped. */
  serial: string;
}

export interface ParsedOcspRequest {
  certIds: ParsedCertId[];
  /** The nonce extension's extnValue content, echoed as is (RFC 6960 §4.4.1, RFC 8954). */
  nonce?: Uint8Array;
}

export class MalformedOcspRequest extends Error {}

const SEQUENCE = 0x30;
const OCTET_STRING = 0x04;

function parseCertId(bytes: Uint8Array, id: Tlv): ParsedCertId {
  const [algorithm, nameHash, keyHash, serial, extra] = children(bytes, expectTag(id, SEQUENCE, 'CertID'));
  const [oid] = children(bytes, expectTag(algorithm, SEQUENCE, 'hashAlgorithm'));
  expectTag(oid, 0x06, 'hashAlgorithm.algorithm');
  expectTag(nameHash, OCTET_STRING, 'issuerNameHash');
  expectTag(keyHash, OCTET_STRING, 'issuerKeyHash');
  expectTag(serial, 0x02, 'serialNumber');
  if (extra) throw new DerError('CertID has more than four fields');
  if (serial!.end === serial!.contentStart) throw new DerError('empty serialNumber');
  const hex = (t: Tlv) => Buffer.from(content(bytes, t)).toString('hex');
  return {
    certId: whole(bytes, id),
    hash: HASH_OIDS[oidText(content(bytes, oid!))],
    issuerNameHash: hex(nameHash!),
    issuerKeyHash: hex(keyHash!),
    serial: hex(serial!).replace(/^(00)+(?=.)/, ''),
  };
}

/** Extension { extnID, critical DEFAULT FALSE, extnValue } → the nonce's extnValue content, if this is one. */
function nonceOf(bytes: Uint8Array, extension: Tlv): Uint8Array | undefined {
  const fields = children(bytes, expectTag(extension, SEQUENCE, 'Extension'));
  const oid = expectTag(fields[0], 0x06, 'extnID');
  const value = expectTag(fields[fields.length - 1], OCTET_STRING, 'extnValue');
  if (fields.length === 3) expectTag(fields[1], 0x01, 'critical');
  else if (fields.length !== 2) throw new DerError('Extension has the wrong number of fields');
  return oidText(content(bytes, oid)) === NONCE_OID ? content(bytes, value) : undefined;
}

/** AlgorithmIdentifier { id-sha1 } with its parameters absent, as some clients write it. */
const SHA1_ALGORITHM_NO_NULL = SHA1_ALGORITHM.subarray(0, 9).map((b, i) => (i === 1 ? 0x07 : b));

export interface PlainSha1Request {
  issuerNameHash: Uint8Array;
  issuerKeyHash: Uint8Array;
  /** As ParsedCertId has it: lowercase hex, leading zero octets dropped. */
  serial: string;
}

/**
 * The request RFC 5019 §2.1.1 describes, and the one nearly every client sends: OCSPRequest { tbsRequest
 * { requestList { Request { CertID } } } } with a SHA-1 CertID, no version, requestor, extension or
 * signature. Recognised by its exact DER layout (every length is one octet and follows from the
 * serial's) instead of being walked: pre-signed answers are found by it at the rate cached ones are.
 * Anything else is undefined and goes through parseOcspRequest, which reads the same where this answers.
 */
export function plainSha1Request(der: Uint8Array): PlainSha1Request | undefined {
  // Five nested SEQUENCEs, each two octets of header: OCSPRequest, tbsRequest, requestList, Request, CertID.
  for (let level = 0; level < 5; level++) {
    if (der[level * 2] !== SEQUENCE || der[level * 2 + 1] !== der.length - (level + 1) * 2) return undefined;
  }
  let at = 10;
  const algorithm = der[11] === 0x09 ? SHA1_ALGORITHM : SHA1_ALGORITHM_NO_NULL;
  for (let i = 0; i < algorithm.length; i++) if (der[at + i] !== algorithm[i]) return undefined;
  at += algorithm.length;
  if (der[at] !== OCTET_STRING || der[at + 1] !== 20 || der[at + 22] !== OCTET_STRING || der[at + 23] !== 20) return undefined;
  const issuerNameHash = der.subarray(at + 2, at + 22);
  const issuerKeyHash = der.subarray(at + 24, at + 44);
  at += 44;
  const length = der[at + 1]!;
  // INTEGER, positive, minimal (X.690 §8.3.2): a leading zero octet only before a high bit.
  if (der[at] !== 0x02 || length < 1 || length > 21 || at + 2 + length !== der.length) return undefined;
  let first = at + 2;
  if (der[first]! & 0x80) return undefined;
  if (der[first] === 0 && length > 1) {
    if (!(der[first + 1]! & 0x80)) return undefined;
    first++;
  }
  return { issuerNameHash, issuerKeyHash, serial: Buffer.from(der.buffer, der.byteOffset + first, der.length - first).toString('hex') };
}

/**
 * OCSPRequest ::= SEQUENCE { tbsRequest, [0] EXPLICIT optionalSignature OPTIONAL } (RFC 6960 §4.1.1);
 * anything that is not one, with nothing after it, is MalformedOcspRequest (→ malformedRequest).
 */
export function parseOcspRequest(der: Uint8Array): ParsedOcspRequest {
  try {
    const outer = readTlv(der, 0);
    if (outer.tag !== SEQUENCE || outer.end !== der.length) throw new DerError('not one DER SEQUENCE');
    const [tbs, signature, extra] = children(der, outer);
    if (extra || (signature && signature.tag !== 0xa0)) throw new DerError('unexpected field after tbsRequest');
    const fields = children(der, expectTag(tbs, SEQUENCE, 'tbsRequest'));
    let at = 0;
    if (fields[at]?.tag === 0xa0) at++; // version [0] EXPLICIT, v1
    if (fields[at]?.tag === 0xa1) at++; // requestorName [1] EXPLICIT
    const list = expectTag(fields[at++], SEQUENCE, 'requestList');
    const extensions = fields[at]?.tag === 0xa2 ? fields[at++] : undefined;
    if (at !== fields.length) throw new DerError('unexpected field in tbsRequest');
    const requests = children(der, list);
    if (!requests.length) throw new MalformedOcspRequest('the request lists no certificate');
    if (requests.length > 64) throw new MalformedOcspRequest('more than 64 certificates in one request');
    const certIds = requests.map((request) => {
      const [certId, single, more] = children(der, expectTag(request, SEQUENCE, 'Request'));
      if (more || (single && single.tag !== 0xa0)) throw new DerError('unexpected field in Request');
      return parseCertId(der, certId!);
    });
    let nonce: Uint8Array | undefined;
    if (extensions) {
      const [list, more] = children(der, extensions);
      if (more) throw new DerError('more than one requestExtensions');
      for (const extension of children(der, expectTag(list, SEQUENCE, 'Extensions'))) nonce = nonceOf(der, extension) ?? nonce;
    }
    if (nonce) {
      // RFC 8954 §2.1: the nonce is an OCTET STRING inside extnValue; some clients send it bare.
      let value = nonce;
      try {
        const inner = readTlv(nonce, 0);
        if (inner.tag === OCTET_STRING && inner.end === nonce.length) value = content(nonce, inner);
      } catch {
        // bare
      }
      // RFC 8954 §2.1: a nonce of fewer than 1 or more than 32 octets is refused with malformedRequest.
      if (value.length < 1 || value.length > 32) throw new MalformedOcspRequest(`nonce of ${value.length} octets (RFC 8954 allows 1 to 32)`);
    }
    return { certIds, nonce };
  } catch (e) {
    if (e instanceof MalformedOcspRequest) throw e;
    if (e instanceof DerError) throw new MalformedOcspRequest(`not an OCSPRequest: ${e.message}`);
    throw e;
  }
}

/** A CertID's issuerNameHash and issuerKeyHash for an issuer certificate (RFC 6960 §4.1.1). */
export function issuerCertIdHashes(issuerCertificate: Uint8Array, hash = 'sha1'): { name: Uint8Array; key: Uint8Array } {
  const digest = (data: Uint8Array) => new Uint8Array(createHash(hash).update(data).digest());
  return { name: digest(rawSubject(issuerCertificate)), key: digest(subjectPublicKeyBits(issuerCertificate)) };
}

/** CertID { sha1, SHA-1(issuer name), SHA-1(issuer key), serial }: the one a pre-signed response names. */
export function sha1CertId(issuerNameHash: Uint8Array, issuerKeyHash: Uint8Array, serialHex: string): Uint8Array {
  return derSequence(SHA1_ALGORITHM, tlv(OCTET_STRING, issuerNameHash), tlv(OCTET_STRING, issuerKeyHash), derUnsignedInteger(Buffer.from(serialHex.length % 2 ? `0${serialHex}` : serialHex, 'hex')));
}

export type CertificateStatus = { status: 'good' } | { status: 'unknown' } | { status: 'revoked'; revokedAt: Date; reasonCode?: number };

export interface SingleAnswer {
  /** DER CertID, as the request had it. */
  certId: Uint8Array;
  status: CertificateStatus;
}

/** ResponderID byKey: SHA-1 of the responder's subjectPublicKey bits (RFC 6960 §4.2.1, RFC 5019 §2.2.2). */
export const responderKeyHash = (subjectPublicKeyBits: Uint8Array) => new Uint8Array(createHash('sha1').update(subjectPublicKeyBits).digest());

const GOOD = Uint8Array.of(0x80, 0x00); // [0] IMPLICIT NULL
const UNKNOWN = Uint8Array.of(0x82, 0x00); // [2] IMPLICIT UnknownInfo (NULL)

function certStatus(status: CertificateStatus): Uint8Array {
  if (status.status === 'good') return GOOD;
  if (status.status === 'unknown') return UNKNOWN;
  // revoked [1] IMPLICIT RevokedInfo { revocationTime, [0] EXPLICIT CRLReason OPTIONAL }
  const reason = status.reasonCode === undefined ? new Uint8Array(0) : tlv(0xa0, Uint8Array.of(0x0a, 0x01, status.reasonCode));
  return tlv(0xa1, concatBytes([derGeneralizedTime(status.revokedAt), reason]));
}

/** DER ResponseData (RFC 6960 §4.2.1), version v1 (left out, DEFAULT), the bytes the responder key signs. */
export function encodeResponseData(input: { responderKeyHash: Uint8Array; producedAt: Date; thisUpdate: Date; nextUpdate: Date; answers: SingleAnswer[]; nonce?: Uint8Array }): Uint8Array {
  const thisUpdate = derGeneralizedTime(input.thisUpdate);
  const nextUpdate = tlv(0xa0, derGeneralizedTime(input.nextUpdate));
  const responses = input.answers.map((a) => derSequence(a.certId, certStatus(a.status), thisUpdate, nextUpdate));
  return derSequence(
    tlv(0xa2, tlv(OCTET_STRING, input.responderKeyHash)),
    derGeneralizedTime(input.producedAt),
    derSequence(...responses),
    // responseExtensions [1] EXPLICIT: the nonce echoed, not critical (RFC 8954 §2.1).
    input.nonce ? tlv(0xa1, derSequence(derSequence(ID_PKIX_OCSP_NONCE, tlv(OCTET_STRING, input.nonce)))) : new Uint8Array(0),
  );
}

/** A GeneralizedTime as OCSP writes it, YYYYMMDDHHMMSSZ (RFC 5280 §4.1.2.5.2). */
function readGeneralizedTime(bytes: Uint8Array, t: Tlv | undefined, what: string): Date {
  const text = Buffer.from(content(bytes, expectTag(t, 0x18, what))).toString('latin1');
  const m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(text);
  if (!m) throw new DerError(`${what}: not a DER GeneralizedTime`);
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
}

export interface ResponseDataTimes {
  producedAt: Date;
  responses: { thisUpdate: Date; nextUpdate?: Date }[];
}

/** The times of a ResponseData, read back from its bytes (what the lint checks before signing). */
export function responseDataTimes(der: Uint8Array): ResponseDataTimes {
  const outer = readTlv(der, 0);
  if (outer.tag !== SEQUENCE || outer.end !== der.length) throw new DerError('ResponseData is not one DER SEQUENCE');
  const fields = children(der, outer);
  let at = fields[0]?.tag === 0xa0 ? 1 : 0;
  if (fields[at]?.tag !== 0xa1 && fields[at]?.tag !== 0xa2) throw new DerError('ResponseData has no responderID');
  at++;
  const producedAt = readGeneralizedTime(der, fields[at++], 'producedAt');
  const responses = children(der, expectTag(fields[at], SEQUENCE, 'responses')).map((single) => {
    const [, , thisUpdate, next] = children(der, expectTag(single, SEQUENCE, 'SingleResponse'));
    const nextUpdate = next?.tag === 0xa0 ? readGeneralizedTime(der, children(der, next)[0], 'nextUpdate') : undefined;
    return { thisUpdate: readGeneralizedTime(der, thisUpdate, 'thisUpdate'), nextUpdate };
  });
  return { producedAt, responses };
}

/** BasicOCSPResponse without its certs: ResponseData as signed, the algorithm, the signature (what is stored). */
export function signedResponseData(tbsResponseData: Uint8Array, signatureAlgorithm: AlgorithmIdentifier | Uint8Array, signature: Uint8Array): Uint8Array {
  const algorithm = signatureAlgorithm instanceof Uint8Array ? signatureAlgorithm : new Uint8Array(AsnConvert.serialize(signatureAlgorithm));
  return concatBytes([tbsResponseData, algorithm, derBitString(signature)]);
}

/**
 * OCSPResponse { successful, responseBytes { id-pkix-ocsp-basic, BasicOCSPResponse } } around signed
 * ResponseData (from signedResponseData), with the responder's certificate in `certs` (RFC 6960 §4.2.2.2).
 * `allocate` is where the answer is written (a slab allocator for answers that are sent and dropped:
 * base/byte-arena.ts).
 */
export function wrapOcspResponse(signed: Uint8Array, responderCertificate: Uint8Array, allocate: (length: number) => Buffer = Buffer.allocUnsafe): Uint8Array {
  // Written into one buffer, lengths first: every answer served from memory goes through here (the
  // nested tlv() calls this replaced cost more than the rest of a pre-signed answer's work).
  const certs = tlvSize(responderCertificate.length); // SEQUENCE OF Certificate
  const basic = signed.length + tlvSize(certs); // BasicOCSPResponse content, certs [0] EXPLICIT
  const responseBytes = ID_PKIX_OCSP_BASIC.length + tlvSize(tlvSize(basic)); // OID, OCTET STRING { BasicOCSPResponse }
  const outer = SUCCESSFUL.length + tlvSize(tlvSize(responseBytes)); // status, [0] EXPLICIT ResponseBytes
  const out = allocate(tlvSize(outer));
  let at = 0;
  const put = (bytes: Uint8Array) => {
    out.set(bytes, at);
    at += bytes.length;
  };
  at = writeTlvHeader(out, at, 0x30, outer);
  put(SUCCESSFUL);
  at = writeTlvHeader(out, at, 0xa0, tlvSize(responseBytes));
  at = writeTlvHeader(out, at, 0x30, responseBytes);
  put(ID_PKIX_OCSP_BASIC);
  at = writeTlvHeader(out, at, 0x04, tlvSize(basic));
  at = writeTlvHeader(out, at, 0x30, basic);
  put(signed);
  at = writeTlvHeader(out, at, 0xa0, certs);
  at = writeTlvHeader(out, at, 0x30, responderCertificate.length);
  put(responderCertificate);
  return out;
}
