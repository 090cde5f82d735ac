import type { CrlSubject, LintRule, OcspSubject } from '../types.js';

/** RFC 5280 §5.1.2.4–5: thisUpdate ≤ now < nextUpdate, and nextUpdate present (conforming issuers). */
export const crlUpdateTimes: LintRule<CrlSubject> = {
  name: 'crl-update-times',
  citation: 'RFC 5280 §5.1.2.4, §5.1.2.5',
  appliesTo: 'crl',
  check({ tbs, now }) {
    const thisUpdate = tbs.thisUpdate.getTime();
    const nextUpdate = tbs.nextUpdate?.getTime();
    const problems: string[] = [];
    if (thisUpdate > now) problems.push(`thisUpdate ${thisUpdate.toISOString()} is in the future`);
    if (!nextUpdate) problems.push('nextUpdate is missing');
    else if (nextUpdate <= now) problems.push(`nextUpdate ${nextUpdate.toISOString()} is not in the future`);
    else if (nextUpdate <= thisUpdate) problems.push('nextUpdate is not after thisUpdate');
    return problems;
  },
};

/** RFC 6960 §4.2.2.1, RFC 5019 §2.2.4: producedAt and thisUpdate not in the future; nextUpdate ahead. */
export const ocspUpdateTimes: LintRule<OcspSubject> = {
  name: 'ocsp-update-times',
  citation: 'RFC 6960 §4.2.2.1, RFC 5019 §2.2.4',
  appliesTo: 'ocsp',
  check({ data, now }) {
    const problems: string[] = [];
    if (data.producedAt > now) problems.push('producedAt is in the future');
    for (const r of data.responses) {
      if (r.thisUpdate > now) problems.push('a thisUpdate is in the future');
      if (!r.nextUpdate) problems.push('a response has no nextUpdate (RFC 5019 requires it)');
      else if (r.nextUpdate <= now) problems.push('a nextUpdate is not in the future');
    }
    return problems;
  },
};
