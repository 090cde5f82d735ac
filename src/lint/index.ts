import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { responseDataTimes, type ResponseDataTimes } from '../x509/ocsp.js';
import { HallmarkError } from '../base/errors.js';
import { certificateSubject, crlSubject } from './parse.js';
import type { CertificateSubject, CrlSubject, Finding, LintIssuer, LintRule, LintSubject, OcspSubject } from './types.js';
import { serialNumber } from './rules/serial-number.js';
import { crlIssuerName, issuerName } from './rules/issuer-name.js';
import { validityWithinIssuer } from './rules/validity-within-issuer.js';
import { validityEncoding } from './rules/validity-encoding.js';
import { subjectOrSan } from './rules/subject-or-san.js';
import { sanSyntax } from './rules/san-syntax.js';
import { authorityKeyId, crlAuthorityKeyId } from './rules/authority-key-id.js';
import { subjectKeyId } from './rules/subject-key-id.js';
import { basicConstraints } from './rules/basic-constraints.js';
import { keyUsage } from './rules/key-usage.js';
import { ekuConsistency } from './rules/eku-consistency.js';
import { duplicateExtensions } from './rules/duplicate-extensions.js';
import { signatureAlgorithm } from './rules/signature-algorithm.js';
import { ocspResponderExtensions } from './rules/ocsp-responder-extensions.js';
import { crlNumber } from './rules/crl-number.js';
import { crlScope } from './rules/crl-scope.js';
import { crlUpdateTimes, ocspUpdateTimes } from './rules/update-times.js';
import { ocspDelegatedResponder } from './rules/ocsp-responder.js';

export type { Finding, LintIssuer } from './types.js';
export { lintIssuerFromCertificate, tbsOf, isCrl } from './parse.js';

export const CERTIFICATE_RULES: LintRule<CertificateSubject>[] = [
  serialNumber,
  issuerName,
  validityWithinIssuer,
  validityEncoding,
  subjectOrSan,
  sanSyntax,
  authorityKeyId,
  subjectKeyId,
  basicConstraints,
  keyUsage,
  ekuConsistency,
  duplicateExtensions,
  signatureAlgorithm,
  ocspResponderExtensions,
];
export const CRL_RULES: LintRule<CrlSubject>[] = [crlIssuerName, crlAuthorityKeyId, crlNumber, crlUpdateTimes, crlScope];
/** Rules about the response's own bytes, and rules about the responder certificate alone (run once per certificate). */
const OCSP_RESPONSE_RULES: LintRule<OcspSubject>[] = [ocspUpdateTimes];
const OCSP_RESPONDER_RULES: LintRule<OcspSubject>[] = [ocspDelegatedResponder];
export const OCSP_RULES: LintRule<OcspSubject>[] = [...OCSP_RESPONSE_RULES, ...OCSP_RESPONDER_RULES];

function run<S extends LintSubject>(rules: LintRule<S>[], subject: S): Finding[] {
  const findings: Finding[] = [];
  for (const rule of rules) {
    let problems: string[];
    try {
      problems = rule.check(subject);
    } catch (e) {
      problems = [`could not be checked: ${(e as Error).message}`];
    }
    for (const message of problems) findings.push({ rule: rule.name, citation: rule.citation, message });
  }
  return findings;
}

/** Lints a DER TBSCertificate before it is signed (or one taken from a certificate). */
export function lintCertificate(tbs: Uint8Array, issuer: LintIssuer | undefined, options: { selfIssued?: boolean } = {}): Finding[] {
  return run(CERTIFICATE_RULES, certificateSubject(tbs, issuer, options.selfIssued));
}

export function lintCrl(tbs: Uint8Array, issuer: LintIssuer | undefined, now: Date, previousNumber?: bigint): Finding[] {
  return run(CRL_RULES, crlSubject(tbs, issuer, now, previousNumber));
}

/**
 * What the rules find in a responder certificate, found once per certificate: it signs every live
 * answer until it renews, and parsing it again for each was the largest part of a live answer's CPU.
 */
const responderFindings = new WeakMap<Uint8Array, Finding[]>();
function findingsAboutResponder(certificate: Uint8Array, now: Date): Finding[] {
  let findings = responderFindings.get(certificate);
  if (!findings) {
    const responder = certificateSubject(new Uint8Array(AsnConvert.serialize(AsnConvert.parse(certificate, Certificate).tbsCertificate)), undefined);
    responderFindings.set(certificate, (findings = run(OCSP_RESPONDER_RULES, { kind: 'ocsp', data: { producedAt: now, responses: [] }, responder, now })));
  }
  return findings;
}

export function lintOcspResponse(responseData: Uint8Array, responderCertificate: Uint8Array | undefined, now: Date): Finding[] {
  let data: ResponseDataTimes;
  try {
    data = responseDataTimes(responseData);
  } catch (e) {
    return [{ rule: 'ocsp-der', citation: 'RFC 6960 §4.2.1', message: `the ResponseData does not parse: ${(e as Error).message}` }];
  }
  const findings = run(OCSP_RESPONSE_RULES, { kind: 'ocsp', data, now });
  return responderCertificate ? [...findings, ...findingsAboutResponder(responderCertificate, now)] : findings;
}

/** Refuses to sign: the error names every rule that failed. */
export function assertLintClean(findings: Finding[], what: string): void {
  if (!findings.length) return;
  const list = findings.map((f) => `${f.rule} (${f.citation}): ${f.message}`).join('; ');
  throw new HallmarkError('lint_failed', `refusing to sign ${what}: ${list}`, 500, { findings });
}
