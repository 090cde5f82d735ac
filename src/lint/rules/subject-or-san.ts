import { SubjectAlternativeName, id_ce_subjectAltName } from '@peculiar/asn1-x509';
import type { CertificateSubject, LintRule } from '../types.js';
import { extension } from './ext.js';

/** RFC 5280 §4.1.2.6, §4.2.1.6: an empty subject needs a subjectAltName, and that one critical. */
export const subjectOrSan: LintRule<CertificateSubject> = {
  name: 'subject-empty-needs-critical-san',
  citation: 'RFC 5280 §4.1.2.6, §4.2.1.6',
  appliesTo: 'certificate',
  check({ tbs }) {
    const san = extension(tbs.extensions ?? [], id_ce_subjectAltName, SubjectAlternativeName);
    return subjectOrSanProblems(tbs.subject.length === 0, san && { critical: san.critical });
  },
};

/** The rule on what it looks at: whether the subject is empty, and the SAN extension if there is one. */
export function subjectOrSanProblems(subjectEmpty: boolean, san: { critical: boolean } | undefined): string[] {
  if (!subjectEmpty) return [];
  if (!san) return ['the subject is empty and there is no subjectAltName'];
  return san.critical ? [] : ['the subject is empty but subjectAltName is not critical'];
}
