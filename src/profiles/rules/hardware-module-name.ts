import { tpmHardwareSerial } from '../../attestation/ek-certificate.js';
import { HW_TYPE_TPM20 } from '../../x509/hardware-module-name.js';
import type { Rule } from './types.js';

/** An attested key's TPM, named in the SAN as 802.1AR IDevIDs do, where the profile says so. */
export const hardwareModuleName: Rule = {
  name: 'hardware-module-name',
  kind: 'shape',
  apply(draft, { profile, attestation }) {
    if (!profile.attestation?.hardwareModuleName || !attestation) return;
    draft.hardwareModules = [{ type: HW_TYPE_TPM20, serial: tpmHardwareSerial(attestation.ek) }];
  },
};
