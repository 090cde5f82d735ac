import { BasicConstraints, KeyUsage, KeyUsageFlags, id_ce_basicConstraints, id_ce_keyUsage } from '@peculiar/asn1-x509';
import type { CertificateSubject, LintRule } from '../types.js';
import { extension } from './ext.js';

/**
 * RFC 5280 §4.2.1.9: on CA certificates basicConstraints is present, critical, cA TRUE; a
 * pathLenConstraint only with cA TRUE, and below the issuer's; no CA under an issuer with pathLen 0.
 */
export const basicConstraints: LintRule<CertificateSubject> = {
  name: 'basic-constraints',
  citation: 'RFC 5280 §4.2.1.9',
  appliesTo: 'certificate',
  check({ tbs, issuer, selfIssued }) {
    const bc = extension(tbs.extensions ?? [], id_ce_basicConstraints, BasicConstraints);
    const ku = extension(tbs.extensions ?? [], id_ce_keyUsage, KeyUsage);
    const signsCertificates = ku ? (ku.value.toNumber() & KeyUsageFlags.keyCertSign) !== 0 : false;
    const problems: string[] = [];
    if (signsCertificates && !bc?.value.cA) problems.push('keyCertSign without basicConstraints cA TRUE');
    if (!bc) return problems;
    if (bc.value.cA) {
      if (!bc.critical) problems.push('basicConstraints must be critical on a CA certificate');
      const parentLimit = selfIssued ? undefined : issuer?.pathLength;
      if (parentLimit !== undefined) {
        if (parentLimit === 0) problems.push('the issuer\'s pathLenConstraint 0 allows no CA below it');
        else if (bc.value.pathLenConstraint === undefined || bc.value.pathLenConstraint >= parentLimit) {
          problems.push(`pathLenConstraint must be below the issuer's ${parentLimit}`);
        }
      }
    } else if (bc.value.pathLenConstraint !== undefined) problems.push('pathLenConstraint on a certificate that is not a CA');
    return problems;
  },
};
