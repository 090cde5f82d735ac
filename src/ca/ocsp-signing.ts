import type { Responder } from './ocsp-responders.js';
import { lintOcspResponse } from '../lint/index.js';
import { algorithmIdentifier } from '../x509/signature-algorithms.js';
import { assembleOcspResponse } from '../x509/ocsp.js';

/** A response the linter refused before anything was signed. */
export class OcspLintRefusal extends Error {}

/** One CA's delegated responder, as the OCSP protocol sees it: who it is, and signing. */
export interface OcspResponseSigner {
  /** SHA-1 of the responder's public key: the ResponderID byKey (RFC 6960 §4.2.2.3). */
  keyHash: Uint8Array;
  /** The whole OCSPResponse for this ResponseData: linted, signed on the token, with the responder certificate. */
  sign(responseData: Uint8Array, now: Date): Promise<Uint8Array>;
}

/**
 * The response signer of each CA, from its current responder (which renews itself: each lookup takes
 * the newest, so that key hash and signature always come from the same one).
 */
export function ocspResponseSigners(responders: () => Map<string, Responder>): (ca: string) => OcspResponseSigner | undefined {
  return (ca) => {
    const responder = responders().get(ca);
    if (!responder) return undefined;
    return {
      keyHash: responder.keyHash,
      async sign(responseData, now) {
        const findings = lintOcspResponse(responseData, responder.certificate, now);
        if (findings.length) throw new OcspLintRefusal(findings.map((f) => `${f.rule}: ${f.message}`).join('; '));
        const signature = await responder.signer.sign(responseData);
        return assembleOcspResponse(responseData, algorithmIdentifier(responder.signer.algorithm), signature, responder.certificate);
      },
    };
  };
}
