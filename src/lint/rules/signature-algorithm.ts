import type { CertificateSubject, LintRule } from '../types.js';

/**
 * RFC 5280 §4.1.2.3: the signature field names the algorithm the issuer's key signs with
 * (RFC 5758 §3.2: ECDSA without parameters; RFC 4055 §5: RSA PKCS#1 v1.5 with NULL).
 */
export const signatureAlgorithm: LintRule<CertificateSubject> = {
  name: 'signature-algorithm',
  citation: 'RFC 5280 §4.1.2.3, RFC 5758 §3.2',
  appliesTo: 'certificate',
  check({ tbs, issuer }) {
    if (!issuer?.expectedSignature.oid) return [];
    const { algorithm, parameters } = tbs.signature;
    const problems: string[] = [];
    if (algorithm !== issuer.expectedSignature.oid) problems.push(`signature algorithm ${algorithm} does not match the issuer key (${issuer.expectedSignature.oid})`);
    // @peculiar/asn1-x509 parses a DER NULL as null and absent parameters as undefined.
    const isNull = parameters === null || (parameters !== undefined && Buffer.from(parameters).equals(Buffer.from([5, 0])));
    if (issuer.expectedSignature.nullParameters && !isNull) problems.push('RSA signature algorithm without NULL parameters');
    if (!issuer.expectedSignature.nullParameters && parameters !== undefined) problems.push('ECDSA signature algorithm with parameters');
    return problems;
  },
};
