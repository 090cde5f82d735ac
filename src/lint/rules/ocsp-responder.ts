import { ExtendedKeyUsage, id_ce_extKeyUsage } from '@peculiar/asn1-x509';
import type { LintRule, OcspSubject } from '../types.js';
import { EKU_OIDS } from '../../x509/extensions.js';
import { extension } from './ext.js';
import { ocspResponderExtensions } from './ocsp-responder-extensions.js';

/** RFC 6960 §4.2.2.2: a response signed by a delegated responder whose certificate says so. */
export const ocspDelegatedResponder: LintRule<OcspSubject> = {
  name: 'ocsp-delegated-responder',
  citation: 'RFC 6960 §4.2.2.2',
  appliesTo: 'ocsp',
  check({ responder }) {
    if (!responder) return [];
    const eku = extension(responder.tbs.extensions ?? [], id_ce_extKeyUsage, ExtendedKeyUsage);
    if (!eku?.value.includes(EKU_OIDS.OCSPSigning!)) return ['the responder certificate lacks id-kp-OCSPSigning'];
    return ocspResponderExtensions.check(responder);
  },
};
