import { createHash, randomBytes } from 'node:crypto';
import { AsnConvert, BitString, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { MessageImprint, PKIStatus, PKIStatusInfo, PKIFreeText, TimeStampReq, TimeStampResp, TSTInfo, Accuracy, id_ct_tstInfo } from '@peculiar/asn1-tsp';
import { signedData } from './cms.js';
import type { LoadedSigner } from './signers.js';

/** Hashes a time-stamp request may name (RFC 3161 §2.4.1), by OID, with their digest sizes. SHA-1 is refused. */
const IMPRINT_HASHES: Record<string, { name: string; bytes: number }> = {
  '2.16.840.1.101.3.4.2.1': { name: 'sha256', bytes: 32 },
  '2.16.840.1.101.3.4.2.2': { name: 'sha384', bytes: 48 },
  '2.16.840.1.101.3.4.2.3': { name: 'sha512', bytes: 64 },
};

/** PKIFailureInfo bits (RFC 3161 §2.4.2), numbered as the RFC numbers them. */
export const FAILURE = { badAlg: 0, badRequest: 2, badDataFormat: 5, unacceptedPolicy: 15, unacceptedExtension: 16, systemFailure: 25 } as const;
export type Failure = keyof typeof FAILURE;

export class TimestampRefusal extends Error {
  constructor(
    readonly failure: Failure,
    message: string,
  ) {
    super(message);
  }
}

export interface TimestampRequest {
  messageImprint: MessageImprint;
  nonce?: ArrayBuffer;
  certReq: boolean;
}

/** TimeStampReq (RFC 3161 §2.4.1) → what is stamped; a TimestampRefusal says why not. */
export function parseTimestampRequest(der: Uint8Array, policy: string): TimestampRequest {
  let request: TimeStampReq;
  try {
    request = AsnConvert.parse(der, TimeStampReq);
    // Nothing after the request, and nothing the schema read loosely: the bytes must be its DER.
    if (Buffer.compare(Buffer.from(AsnConvert.serialize(request)), Buffer.from(der)) !== 0) throw new Error('not DER');
  } catch {
    throw new TimestampRefusal('badDataFormat', 'not a DER TimeStampReq');
  }
  if (request.version !== 1) throw new TimestampRefusal('badRequest', `TimeStampReq version ${request.version}; only v1 exists`);
  const hash = IMPRINT_HASHES[request.messageImprint.hashAlgorithm.algorithm];
  if (!hash) throw new TimestampRefusal('badAlg', `hash algorithm ${request.messageImprint.hashAlgorithm.algorithm} is not accepted (SHA-256, SHA-384, SHA-512)`);
  const imprint = new Uint8Array(request.messageImprint.hashedMessage.buffer);
  if (imprint.length !== hash.bytes) throw new TimestampRefusal('badDataFormat', `a ${hash.name} imprint is ${hash.bytes} bytes, not ${imprint.length}`);
  if (request.reqPolicy !== undefined && request.reqPolicy !== policy) throw new TimestampRefusal('unacceptedPolicy', `policy ${request.reqPolicy} is not this TSA's (${policy})`);
  if (request.extensions?.length) throw new TimestampRefusal('unacceptedExtension', 'this TSA accepts no request extensions');
  return { messageImprint: request.messageImprint, nonce: request.nonce, certReq: request.certReq };
}

/** The name of an accepted imprint's hash (parseTimestampRequest refused any other). */
export const imprintHashName = (imprint: MessageImprint): string => IMPRINT_HASHES[imprint.hashAlgorithm.algorithm]!.name;

/** A serial of 128 random bits, positive, its first octet never zero (RFC 3161 §2.4.2: users accept up to 160 bits). */
export function timestampSerial(): Uint8Array {
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  return serial;
}

/**
 * A TimeStampToken: a TSTInfo (policy, the imprint, serial, genTime, accuracy, the nonce echoed) signed
 * as CMS SignedData with eContentType id-ct-TSTInfo and signingCertificateV2 (RFC 5816); the TSA's
 * certificate and chain travel only when asked for (certReq, §2.4.1).
 */
export async function timestampToken(input: { messageImprint: MessageImprint; nonce?: ArrayBuffer; certReq: boolean; policy: string; serial: Uint8Array; genTime: Date; accuracySeconds: number; tsa: LoadedSigner }): Promise<Uint8Array> {
  const info = new TSTInfo({
    version: 1,
    policy: input.policy,
    messageImprint: input.messageImprint,
    serialNumber: input.serial.slice().buffer,
    genTime: input.genTime,
    accuracy: new Accuracy({ seconds: input.accuracySeconds }),
    ordering: false,
    nonce: input.nonce,
  });
  const content = new Uint8Array(AsnConvert.serialize(info));
  const digestAlgorithm = input.tsa.row.key_type === 'ec-p384' ? 'sha384' : 'sha256';
  return signedData({
    contentType: id_ct_tstInfo,
    content,
    digestAlgorithm,
    digest: createHash(digestAlgorithm).update(content).digest(),
    signer: input.tsa.key,
    chain: input.tsa.chain,
    includeCertificates: input.certReq,
  });
}

/** The imprint of data hashed with SHA-256, as a request would name it. */
export const sha256Imprint = (data: Uint8Array) =>
  new MessageImprint({ hashAlgorithm: new AlgorithmIdentifier({ algorithm: '2.16.840.1.101.3.4.2.1' }), hashedMessage: new OctetString(createHash('sha256').update(data).digest()) });

/** A refused TimeStampResp: status rejection, the reason in words and the failure bit (§2.4.2). */
export function refuseTimestamp(failure: Failure, reason: string): Uint8Array {
  const bit = FAILURE[failure];
  const bytes = new Uint8Array(Math.floor(bit / 8) + 1);
  bytes[Math.floor(bit / 8)] = 0x80 >> bit % 8;
  // DER: a named bit list has no trailing zero bits (X.690 §11.2.2).
  const failInfo = new BitString(bytes, 7 - (bit % 8));
  const status = new PKIStatusInfo({ status: PKIStatus.rejection, statusString: new PKIFreeText([reason]), failInfo: failInfo as never });
  return new Uint8Array(AsnConvert.serialize(new TimeStampResp({ status })));
}
