import { BasicConstraints, SubjectKeyIdentifier, id_ce_basicConstraints, id_ce_subjectKeyIdentifier } from '@peculiar/asn1-x509';
import type { CertificateSubject, LintRule } from '../types.js';
import { extension } from './ext.js';

/** RFC 5280 §4.2.1.2: CA certificates carry a non-critical subjectKeyIdentifier. */
export const subjectKeyId: LintRule<CertificateSubject> = {
  name: 'subject-key-id',
  citation: 'RFC 5280 §4.2.1.2',
  appliesTo: 'certificate',
  check({ tbs }) {
    const isCa = extension(tbs.extensions ?? [], id_ce_basicConstraints, BasicConstraints)?.value.cA === true;
    const ski = extension(tbs.extensions ?? [], id_ce_subjectKeyIdentifier, SubjectKeyIdentifier);
    if (ski?.critical) return ['subjectKeyIdentifier must not be critical'];
    return isCa && !ski ? ['a CA certificate without subjectKeyIdentifier'] : [];
  },
};
