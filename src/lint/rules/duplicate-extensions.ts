import type { CertificateSubject, LintRule } from '../types.js';

/** RFC 5280 §4.2: a certificate must not include more than one instance of an extension. */
export const duplicateExtensions: LintRule<CertificateSubject> = {
  name: 'no-duplicate-extensions',
  citation: 'RFC 5280 §4.2',
  appliesTo: 'certificate',
  check({ extensions }) {
    const seen = new Set<string>();
    const duplicates = new Set<string>();
    for (const e of extensions) (seen.has(e.extnID) ? duplicates : seen).add(e.extnID);
    return [...duplicates].map((oid) => `extension ${oid} appears more than once`);
  },
};
