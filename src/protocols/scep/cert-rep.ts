import { createHash, randomBytes } from 'node:crypto';
import { id_data } from '@peculiar/asn1-cms';
import { signedData } from '../../signing/cms.js';
import type { LoadedSigner } from '../../signing/signers.js';
import { MESSAGE_TYPE, nonceAttribute, PKI_STATUS, printableAttribute, SCEP_ATTRIBUTES } from './attributes.js';
import { FAIL_INFO, type FailInfo } from './failure.js';
import { sealEnvelope } from './envelope.js';

export type Outcome = { status: 'SUCCESS'; content: Uint8Array } | { status: 'FAILURE'; failInfo: FailInfo } | { status: 'PENDING' };

/**
 * A CertRep (RFC 8894 §3.3.2): SignedData signed by the RA's key on the token, its signed attributes
 * transactionID (the request's), messageType CertRep, pkiStatus, failInfo on FAILURE, a fresh
 * senderNonce and the request's senderNonce as recipientNonce. On SUCCESS the content (a degenerate
 * certs-only or CRLs-only SignedData) is enveloped to the requester's certificate, with the request's
 * content encryption; otherwise there is no content.
 */
export async function certRep(ra: LoadedSigner, request: { transactionId: string; senderNonce: Uint8Array; signerCertificate: Uint8Array; cipherOid?: string }, outcome: Outcome, now: Date): Promise<Uint8Array> {
  const envelope = outcome.status === 'SUCCESS' ? sealEnvelope(outcome.content, request.signerCertificate, request.cipherOid ?? '') : undefined;
  return signedData({
    contentType: id_data,
    // FAILURE and PENDING carry no envelope, but an (empty) content all the same: clients verify with
    // OpenSSL's PKCS7_verify, which refuses a SignedData without content ("no content").
    content: envelope ?? new Uint8Array(),
    digestAlgorithm: 'sha256',
    digest: createHash('sha256').update(envelope ?? new Uint8Array()).digest(),
    signer: ra.key,
    chain: ra.chain,
    includeCertificates: true,
    signingTime: now,
    extraAttributes: [
      printableAttribute(SCEP_ATTRIBUTES.transactionID, request.transactionId),
      printableAttribute(SCEP_ATTRIBUTES.messageType, MESSAGE_TYPE.CertRep),
      printableAttribute(SCEP_ATTRIBUTES.pkiStatus, PKI_STATUS[outcome.status]),
      ...(outcome.status === 'FAILURE' ? [printableAttribute(SCEP_ATTRIBUTES.failInfo, FAIL_INFO[outcome.failInfo])] : []),
      nonceAttribute(SCEP_ATTRIBUTES.senderNonce, randomBytes(16)),
      nonceAttribute(SCEP_ATTRIBUTES.recipientNonce, request.senderNonce),
    ],
  });
}
