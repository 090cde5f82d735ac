import { AuthorityKeyIdentifier, SubjectKeyIdentifier, id_ce_authorityKeyIdentifier, id_ce_subjectKeyIdentifier } from '@peculiar/asn1-x509';
import type { CertificateSubject, CrlSubject, LintRule } from '../types.js';
import { extension, hex } from './ext.js';

/** RFC 5280 §4.2.1.1: AKI present (also on roots, which we issue so), its keyIdentifier = the issuer's SKI. */
export const authorityKeyId: LintRule<CertificateSubject> = {
  name: 'authority-key-id',
  citation: 'RFC 5280 §4.2.1.1',
  appliesTo: 'certificate',
  check({ tbs, issuer, selfIssued }) {
    const aki = extension(tbs.extensions ?? [], id_ce_authorityKeyIdentifier, AuthorityKeyIdentifier);
    if (!aki) return ['authorityKeyIdentifier is missing'];
    if (aki.critical) return ['authorityKeyIdentifier must not be critical'];
    if (!aki.value.keyIdentifier) return ['authorityKeyIdentifier has no keyIdentifier'];
    const ski = selfIssued ? extension(tbs.extensions ?? [], id_ce_subjectKeyIdentifier, SubjectKeyIdentifier)?.value : issuer?.ski;
    if (!ski) return [];
    const expected = ski instanceof Uint8Array ? hex(ski) : hex(ski.buffer);
    return hex(aki.value.keyIdentifier.buffer) === expected ? [] : [`authorityKeyIdentifier ${hex(aki.value.keyIdentifier.buffer)} is not the issuer's SKI ${expected}`];
  },
};

/** RFC 5280 §5.2.1: conforming CRL issuers include the AKI, matching their SKI. */
export const crlAuthorityKeyId: LintRule<CrlSubject> = {
  name: 'crl-authority-key-id',
  citation: 'RFC 5280 §5.2.1',
  appliesTo: 'crl',
  check({ tbs, issuer }) {
    const aki = extension(tbs.crlExtensions ?? [], id_ce_authorityKeyIdentifier, AuthorityKeyIdentifier);
    if (!aki?.value.keyIdentifier) return ['the CRL has no authorityKeyIdentifier'];
    if (issuer?.ski && hex(aki.value.keyIdentifier.buffer) !== hex(issuer.ski)) return ['the CRL\'s authorityKeyIdentifier is not the CA\'s SKI'];
    return [];
  },
};
