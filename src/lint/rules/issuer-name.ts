import type { CertificateSubject, CrlSubject, LintRule } from '../types.js';
import { sameBytes } from './ext.js';

/** RFC 5280 §4.1.2.4 and §7.1: the issuer field is the issuing CA's subject, byte for byte. */
export const issuerName: LintRule<CertificateSubject> = {
  name: 'issuer-name',
  citation: 'RFC 5280 §4.1.2.4, §7.1',
  appliesTo: 'certificate',
  check({ raw, issuer, selfIssued }) {
    const expected = selfIssued ? raw.subject : issuer?.subject;
    if (!expected) return [];
    return sameBytes(raw.issuer, expected) ? [] : ['issuer is not byte for byte the issuing CA\'s subject'];
  },
};

/** RFC 5280 §5.1.2.3: the CRL issuer is the CA's subject. */
export const crlIssuerName: LintRule<CrlSubject> = {
  name: 'crl-issuer-name',
  citation: 'RFC 5280 §5.1.2.3',
  appliesTo: 'crl',
  check({ raw, issuer }) {
    if (!issuer) return [];
    return sameBytes(raw.issuer, issuer.subject) ? [] : ['CRL issuer is not byte for byte the CA\'s subject'];
  },
};
