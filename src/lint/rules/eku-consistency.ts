import { ExtendedKeyUsage, KeyUsage, KeyUsageFlags, id_ce_extKeyUsage, id_ce_keyUsage } from '@peculiar/asn1-x509';
import type { CertificateSubject, LintRule } from '../types.js';
import { extension } from './ext.js';

const NEEDS: Record<string, { name: string; anyOf: number }> = {
  '1.3.6.1.5.5.7.3.1': { name: 'serverAuth', anyOf: KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment | KeyUsageFlags.keyAgreement },
  '1.3.6.1.5.5.7.3.2': { name: 'clientAuth', anyOf: KeyUsageFlags.digitalSignature | KeyUsageFlags.keyAgreement },
  '1.3.6.1.5.5.7.3.3': { name: 'codeSigning', anyOf: KeyUsageFlags.digitalSignature },
  '1.3.6.1.5.5.7.3.9': { name: 'OCSPSigning', anyOf: KeyUsageFlags.digitalSignature | KeyUsageFlags.nonRepudiation },
};

/** RFC 5280 §4.2.1.12: each extended key usage must be one the key usage bits permit. */
export const ekuConsistency: LintRule<CertificateSubject> = {
  name: 'eku-consistent-with-key-usage',
  citation: 'RFC 5280 §4.2.1.12',
  appliesTo: 'certificate',
  check({ tbs }) {
    const eku = extension(tbs.extensions ?? [], id_ce_extKeyUsage, ExtendedKeyUsage);
    const ku = extension(tbs.extensions ?? [], id_ce_keyUsage, KeyUsage);
    if (!eku || !ku) return [];
    const flags = ku.value.toNumber();
    return eku.value.filter((oid) => NEEDS[oid] && !(flags & NEEDS[oid]!.anyOf)).map((oid) => `${NEEDS[oid]!.name} without a key usage that allows it`);
  },
};
