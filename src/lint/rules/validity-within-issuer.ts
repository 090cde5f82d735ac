import type { CertificateSubject, LintRule } from '../types.js';

/** RFC 5280 §4.1.2.5 and §6.1.3: a non-empty validity that the issuer's own validity covers. */
export const validityWithinIssuer: LintRule<CertificateSubject> = {
  name: 'validity-within-issuer',
  citation: 'RFC 5280 §4.1.2.5',
  appliesTo: 'certificate',
  check({ tbs, issuer, selfIssued }) {
    const notBefore = tbs.validity.notBefore.getTime();
    const notAfter = tbs.validity.notAfter.getTime();
    const problems: string[] = [];
    if (notAfter <= notBefore) problems.push('notAfter is not after notBefore');
    if (issuer && !selfIssued) {
      if (notBefore < issuer.notBefore) problems.push('notBefore is before the issuer\'s notBefore');
      if (notAfter > issuer.notAfter) problems.push('notAfter is after the issuer\'s notAfter');
    }
    return problems;
  },
};
