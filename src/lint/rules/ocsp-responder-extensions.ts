import { ExtendedKeyUsage, id_ce_extKeyUsage } from '@peculiar/asn1-x509';
import type { CertificateSubject, LintRule } from '../types.js';
import { extension } from './ext.js';
import { EKU_OIDS, ID_PKIX_OCSP_NOCHECK } from '../../x509/extensions.js';

/**
 * RFC 6960 §4.2.2.2: a delegated responder's certificate carries id-kp-OCSPSigning; §4.2.2.2.1:
 * it should carry id-pkix-ocsp-nocheck (Hallmark requires it), and nocheck belongs on nothing else.
 */
export const ocspResponderExtensions: LintRule<CertificateSubject> = {
  name: 'ocsp-responder-extensions',
  citation: 'RFC 6960 §4.2.2.2, §4.2.2.2.1',
  appliesTo: 'certificate',
  check({ tbs }) {
    const signsOcsp = extension(tbs.extensions ?? [], id_ce_extKeyUsage, ExtendedKeyUsage)?.value.includes(EKU_OIDS.OCSPSigning!) ?? false;
    const noCheck = (tbs.extensions ?? []).some((e) => e.extnID === ID_PKIX_OCSP_NOCHECK);
    if (signsOcsp && !noCheck) return ['an OCSP responder certificate without id-pkix-ocsp-nocheck'];
    if (noCheck && !signsOcsp) return ['id-pkix-ocsp-nocheck on a certificate without id-kp-OCSPSigning'];
    return [];
  },
};
