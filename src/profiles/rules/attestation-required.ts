import { HallmarkError } from '../../base/errors.js';
import type { Rule } from './types.js';

/**
 * A profile that requires TPM attestation issues only to an attested key (attestation/redeem.ts), on
 * every path: a CSR (REST, EST, CMP, a station, the CLI) proves possession of a key, never where it
 * lives. The attested key must be the very key being certified.
 */
export const attestationRequired: Rule = {
  name: 'attestation-required',
  kind: 'csr',
  check({ csr, profile, attestation }) {
    if (attestation && Buffer.compare(Buffer.from(attestation.spkiDer), Buffer.from(csr.spkiDer)) !== 0) {
      throw new HallmarkError('attestation_mismatch', 'the attested key is not the key this request certifies', 400, { rule: this.name });
    }
    if (profile.attestation?.required && !attestation) {
      throw new HallmarkError(
        'attestation_required',
        `profile "${profile.name}" issues only to keys proven to live in a TPM: enroll with TPM attestation (POST /api/v1/attestation/challenges, docs/tpm-attestation.md); a CSR cannot obtain it`,
        403,
        { rule: this.name },
      );
    }
  },
};
