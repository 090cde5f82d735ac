import { createHash } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { CRLReason, Extension, type AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { CertID, CertStatus, KeyHash, OCSPRequest, ResponderID, ResponseData, RevokedInfo, SingleResponse, id_pkix_ocsp_nonce } from '@peculiar/asn1-ocsp';
import { derBitString, derSequence, tlv } from './der.js';
import { exactBuffer } from './bytes.js';
import { serialToHex } from './serial.js';

/** OCSPResponseStatus (RFC 6960 §4.2.1). */
export const OCSP_STATUS = { successful: 0, malformedRequest: 1, internalError: 2, tryLater: 3, sigRequired: 5, unauthorized: 6 } as const;

/** An unsuccessful OCSPResponse is just its status: SEQUENCE { ENUMERATED } (no responseBytes). */
export const ocspErrorResponse = (status: number) => Uint8Array.of(0x30, 0x03, 0x0a, 0x01, status);

/** DER OBJECT IDENTIFIER 1.3.6.1.5.5.7.48.1.1, id-pkix-ocsp-basic (RFC 6960 §4.2.1). */
const ID_PKIX_OCSP_BASIC = Uint8Array.of(0x06, 0x09, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01);

export const HASH_OIDS: Record<string, 'sha1' | 'sha256' | 'sha384' | 'sha512'> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

export interface ParsedCertId {
  certId: CertID;
  hash: string | undefined;
  issuerNameHash: string;
  issuerKeyHash: string;
  serial: string;
}

export interface ParsedOcspRequest {
  certIds: ParsedCertId[];
  /** The request's nonce extension, echoed as is (RFC 6960 §4.4.1, RFC 8954). */
  nonce?: Extension;
}

export class MalformedOcspRequest extends Error {}

/** Parses an OCSPRequest; anything that is not one is MalformedOcspRequest (→ malformedRequest). */
export function parseOcspRequest(der: Uint8Array): ParsedOcspRequest {
  let request: OCSPRequest;
  try {
    request = AsnConvert.parse(der, OCSPRequest);
  } catch (e) {
    throw new MalformedOcspRequest(`not an OCSPRequest: ${(e as Error).message}`);
  }
  const list = request.tbsRequest.requestList;
  if (!list.length) throw new MalformedOcspRequest('the request lists no certificate');
  if (list.length > 64) throw new MalformedOcspRequest('more than 64 certificates in one request');
  const certIds = list.map((r) => {
    const id = r.reqCert;
    const hex = (b: ArrayBuffer) => Buffer.from(b).toString('hex');
    return {
      certId: id,
      hash: HASH_OIDS[id.hashAlgorithm.algorithm],
      issuerNameHash: hex(id.issuerNameHash.buffer),
      issuerKeyHash: hex(id.issuerKeyHash.buffer),
      serial: serialToHex(new Uint8Array(id.serialNumber)).replace(/^(00)+(?=.)/, ''),
    };
  });
  const nonce = request.tbsRequest.requestExtensions?.find((e) => e.extnID === id_pkix_ocsp_nonce);
  if (nonce) {
    // RFC 8954 §2.1: a nonce of fewer than 1 or more than 32 octets is refused with malformedRequest.
    let value = new Uint8Array(nonce.extnValue.buffer);
    try {
      value = new Uint8Array(AsnConvert.parse(value, OctetString).buffer);
    } catch {
      // Some clients send the nonce bare, not wrapped in an OCTET STRING; take it as it is.
    }
    if (value.length < 1 || value.length > 32) throw new MalformedOcspRequest(`nonce of ${value.length} octets (RFC 8954 allows 1 to 32)`);
  }
  return { certIds, nonce };
}

export type CertificateStatus = { status: 'good' } | { status: 'unknown' } | { status: 'revoked'; revokedAt: Date; reasonCode?: number };

export interface SingleAnswer {
  certId: CertID;
  status: CertificateStatus;
}

/** ResponderID byKey: SHA-1 of the responder's subjectPublicKey bits (RFC 6960 §4.2.1, RFC 5019 §2.2.2). */
export const responderKeyHash = (subjectPublicKeyBits: Uint8Array) => new Uint8Array(createHash('sha1').update(subjectPublicKeyBits).digest());

/** DER ResponseData (RFC 6960 §4.2.1), the bytes the responder key signs. */
export function encodeResponseData(input: { responderKeyHash: Uint8Array; producedAt: Date; thisUpdate: Date; nextUpdate: Date; answers: SingleAnswer[]; nonce?: Extension }): Uint8Array {
  const data = new ResponseData({
    responderID: new ResponderID({ byKey: new KeyHash(exactBuffer(input.responderKeyHash)) }),
    producedAt: input.producedAt,
    responses: input.answers.map(
      (a) =>
        new SingleResponse({
          certID: a.certId,
          certStatus:
            a.status.status === 'good'
              ? new CertStatus({ good: null })
              : a.status.status === 'unknown'
                ? new CertStatus({ unknown: null })
                : new CertStatus({ revoked: new RevokedInfo({ revocationTime: a.status.revokedAt, revocationReason: a.status.reasonCode === undefined ? undefined : new CRLReason(a.status.reasonCode) }) }),
          thisUpdate: input.thisUpdate,
          nextUpdate: input.nextUpdate,
        }),
    ),
    responseExtensions: input.nonce ? [new Extension({ extnID: input.nonce.extnID, critical: false, extnValue: input.nonce.extnValue })] : undefined,
  });
  return new Uint8Array(AsnConvert.serialize(data));
}

/**
 * OCSPResponse { successful, responseBytes { id-pkix-ocsp-basic, BasicOCSPResponse } } around the
 * signed ResponseData bytes as they were signed, with the responder's certificate in `certs`.
 */
export function assembleOcspResponse(tbsResponseData: Uint8Array, signatureAlgorithm: AlgorithmIdentifier, signature: Uint8Array, responderCertificate: Uint8Array): Uint8Array {
  const basic = derSequence(tbsResponseData, new Uint8Array(AsnConvert.serialize(signatureAlgorithm)), derBitString(signature), tlv(0xa0, derSequence(responderCertificate)));
  return derSequence(Uint8Array.of(0x0a, 0x01, 0x00), tlv(0xa0, derSequence(ID_PKIX_OCSP_BASIC, tlv(0x04, basic))));
}

