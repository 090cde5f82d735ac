import { CRLNumber, id_ce_cRLNumber } from '@peculiar/asn1-x509';
import type { CrlSubject, LintRule } from '../types.js';
import { extension } from './ext.js';

/** RFC 5280 §5.2.3: a non-critical CRL number, monotonically increasing, at most 20 octets. */
export const crlNumber: LintRule<CrlSubject> = {
  name: 'crl-number',
  citation: 'RFC 5280 §5.2.3',
  appliesTo: 'crl',
  check({ tbs, previousNumber }) {
    const ext = extension(tbs.crlExtensions ?? [], id_ce_cRLNumber, CRLNumber);
    if (!ext) return ['the CRL has no CRL number'];
    if (ext.critical) return ['the CRL number extension must not be critical'];
    const number = BigInt(ext.value.value);
    if (number < 0n) return ['the CRL number is negative'];
    if (previousNumber !== undefined && number <= previousNumber) return [`CRL number ${number} does not increase on ${previousNumber}`];
    return [];
  },
};
