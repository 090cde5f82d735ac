import { BaseCRLNumber, CRLNumber, IssuingDistributionPoint, id_ce_cRLNumber, id_ce_deltaCRLIndicator, id_ce_freshestCRL, id_ce_issuingDistributionPoint } from '@peculiar/asn1-x509';
import type { CrlSubject, LintRule } from '../types.js';
import { extension } from './ext.js';

/**
 * The extensions that say what a CRL covers: an issuing distribution point is critical and names one
 * kind of certificate at most (RFC 5280 §5.2.5); a delta CRL indicator is critical and names a base
 * older than the delta itself (§5.2.4); a freshest CRL pointer is non-critical and never in a delta
 * (§5.2.6).
 */
export const crlScope: LintRule<CrlSubject> = {
  name: 'crl-scope',
  citation: 'RFC 5280 §5.2.4, §5.2.5, §5.2.6',
  appliesTo: 'crl',
  check({ tbs }) {
    const extensions = tbs.crlExtensions ?? [];
    const problems: string[] = [];
    const idp = extension(extensions, id_ce_issuingDistributionPoint, IssuingDistributionPoint);
    if (idp && !idp.critical) problems.push('the issuing distribution point must be critical');
    if (idp && [idp.value.onlyContainsUserCerts, idp.value.onlyContainsCACerts, idp.value.onlyContainsAttributeCerts].filter(Boolean).length > 1) {
      problems.push('the issuing distribution point may assert one of onlyContainsUserCerts, onlyContainsCACerts, onlyContainsAttributeCerts at most');
    }
    const delta = extension(extensions, id_ce_deltaCRLIndicator, BaseCRLNumber);
    if (delta) {
      if (!delta.critical) problems.push('the delta CRL indicator must be critical');
      const number = extension(extensions, id_ce_cRLNumber, CRLNumber);
      if (number && BigInt(delta.value.value) >= BigInt(number.value.value)) problems.push(`the delta CRL's base ${delta.value.value} is not older than its own number ${number.value.value}`);
    }
    const freshest = extensions.find((e) => e.extnID === id_ce_freshestCRL);
    if (freshest?.critical) problems.push('the freshest CRL extension must not be critical');
    if (freshest && delta) problems.push('a delta CRL must not carry a freshest CRL extension');
    return problems;
  },
};
