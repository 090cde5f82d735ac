import type { CertificateSubject, LintRule } from '../types.js';

const UTC_TIME = 23;
const GENERALIZED_TIME = 24;

/** RFC 5280 §4.1.2.5: UTCTime for dates through 2049, GeneralizedTime from 2050. */
export const validityEncoding: LintRule<CertificateSubject> = {
  name: 'validity-encoding',
  citation: 'RFC 5280 §4.1.2.5',
  appliesTo: 'certificate',
  check({ tbs, raw }) {
    const problems: string[] = [];
    for (const [field, date, tag] of [
      ['notBefore', tbs.validity.notBefore.getTime(), raw.notBeforeTag],
      ['notAfter', tbs.validity.notAfter.getTime(), raw.notAfterTag],
    ] as const) {
      const want = date.getUTCFullYear() < 2050 ? UTC_TIME : GENERALIZED_TIME;
      if (tag !== want) problems.push(`${field} (${date.getUTCFullYear()}) must be ${want === UTC_TIME ? 'UTCTime' : 'GeneralizedTime'}`);
    }
    return problems;
  },
};
