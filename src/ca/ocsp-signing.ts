import { AsnConvert } from '@peculiar/asn1-schema';
import type { Responder } from './ocsp-responders.js';
import { lintOcspResponse } from '../lint/index.js';
import { algorithmIdentifier } from '../x509/signature-algorithms.js';
import { signedResponseData } from '../x509/ocsp.js';

/** A response the linter refused before anything was signed. */
export class OcspLintRefusal extends Error {}

/** One CA's delegated responder, as the OCSP protocol sees it: who it is, and signing. */
export interface OcspResponseSigner {
  /** SHA-1 of the responder's public key: the ResponderID byKey (RFC 6960 §4.2.2.3). */
  keyHash: Uint8Array;
  /** The responder certificate's serial (which responder signed a stored answer) and the certificate. */
  serial: string;
  certificate: Uint8Array;
  /**
   * Each ResponseData linted and signed on the token (a batch in one trip to the signing threads), in
   * order, as signedResponseData (wrapOcspResponse adds the certificate). A refused one is its OcspLintRefusal.
   */
  signMany(responseData: Uint8Array[], now: Date): Promise<(Uint8Array | OcspLintRefusal)[]>;
}

const algorithmDer = new WeakMap<Responder, Uint8Array>();

/**
 * The response signer of each CA, from its current responder (which renews itself: each lookup takes
 * the newest, so that key hash and signature always come from the same one).
 */
export function ocspResponseSigners(responders: () => Map<string, Responder>): (ca: string) => OcspResponseSigner | undefined {
  return (ca) => {
    const responder = responders().get(ca);
    if (!responder) return undefined;
    let algorithm = algorithmDer.get(responder);
    if (!algorithm) algorithmDer.set(responder, (algorithm = new Uint8Array(AsnConvert.serialize(algorithmIdentifier(responder.signer.algorithm)))));
    return {
      keyHash: responder.keyHash,
      serial: responder.serial,
      certificate: responder.certificate,
      async signMany(responseData, now) {
        const verdicts = responseData.map((tbs) => {
          const findings = lintOcspResponse(tbs, responder.certificate, now);
          return findings.length ? new OcspLintRefusal(findings.map((f) => `${f.rule}: ${f.message}`).join('; ')) : tbs;
        });
        const clean = verdicts.filter((v): v is Uint8Array => v instanceof Uint8Array);
        const signatures = clean.length ? await responder.signer.signMany(clean) : [];
        let next = 0;
        return verdicts.map((v) => (v instanceof Uint8Array ? signedResponseData(v, algorithm, signatures[next++]!) : v));
      },
    };
  };
}
