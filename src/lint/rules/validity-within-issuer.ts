import type { CertificateSubject, LintRule } from '../types.js';

/** RFC 5280 §4.1.2.5 and §6.1.3: a non-empty validity that the issuer's own validity covers. */
export const validityWithinIssuer: LintRule<CertificateSubject> = {
  name: 'validity-within-issuer',
  citation: 'RFC 5280 §4.1.2.5',
  appliesTo: 'certificate',
  // asn1-x509's Time.getTime() gives the Date.
  check: ({ tbs, issuer, selfIssued }) => validityProblems(tbs.validity.notBefore.getTime(), tbs.validity.notAfter.getTime(), selfIssued ? undefined : issuer),
};

/** The validity-within-issuer rule on plain dates (also run per certificate by the issuance hot path). */
export function validityProblems(notBefore: Date, notAfter: Date, issuer?: { notBefore: Date; notAfter: Date }): string[] {
  const problems: string[] = [];
  if (notAfter.getTime() <= notBefore.getTime()) problems.push('notAfter is not after notBefore');
  if (issuer) {
    if (notBefore < issuer.notBefore) problems.push('notBefore is before the issuer\'s notBefore');
    if (notAfter > issuer.notAfter) problems.push('notAfter is after the issuer\'s notAfter');
  }
  return problems;
}
