import { BasicConstraints, KeyUsage, KeyUsageFlags, id_ce_basicConstraints, id_ce_keyUsage } from '@peculiar/asn1-x509';
import { id_ecPublicKey } from '@peculiar/asn1-ecc';
import type { CertificateSubject, LintRule } from '../types.js';
import { extension } from './ext.js';

/**
 * RFC 5280 §4.2.1.3: keyUsage present and critical, not empty; keyCertSign on CAs and only on CAs.
 * RFC 5480 §3: an EC public key cannot encipher keys or data (no keyEncipherment/dataEncipherment).
 */
export const keyUsage: LintRule<CertificateSubject> = {
  name: 'key-usage',
  citation: 'RFC 5280 §4.2.1.3, RFC 5480 §3',
  appliesTo: 'certificate',
  check({ tbs }) {
    const ku = extension(tbs.extensions ?? [], id_ce_keyUsage, KeyUsage);
    if (!ku) return ['keyUsage is missing'];
    const problems: string[] = [];
    if (!ku.critical) problems.push('keyUsage should be critical');
    const flags = ku.value.toNumber();
    if (!flags) problems.push('keyUsage has no bit set');
    const isCa = extension(tbs.extensions ?? [], id_ce_basicConstraints, BasicConstraints)?.value.cA === true;
    if (isCa && !(flags & KeyUsageFlags.keyCertSign)) problems.push('a CA certificate without keyCertSign');
    if (!isCa && flags & (KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign)) problems.push('keyCertSign or cRLSign on an end-entity certificate');
    if (tbs.subjectPublicKeyInfo.algorithm.algorithm === id_ecPublicKey && flags & (KeyUsageFlags.keyEncipherment | KeyUsageFlags.dataEncipherment)) {
      problems.push('keyEncipherment or dataEncipherment with an EC key');
    }
    return problems;
  },
};
