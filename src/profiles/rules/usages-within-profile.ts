import { policyViolation, type Rule } from './types.js';

/** A CSR may ask for less than the profile gives (it gets the profile's set), never for more. */
export const usagesWithinProfile: Rule = {
  name: 'usages-within-profile',
  kind: 'csr',
  check({ csr, profile }) {
    const extraKu = csr.requested.keyUsage.filter((u) => !(profile.keyUsage as string[]).includes(u));
    if (extraKu.length) throw policyViolation(this.name, profile, `key usage ${extraKu.join(', ')} is not in the profile (${profile.keyUsage.join(', ')})`);
    const extraEku = csr.requested.extendedKeyUsage.filter((u) => !(profile.extendedKeyUsage as string[]).includes(u));
    if (extraEku.length) {
      throw policyViolation(this.name, profile, `extended key usage ${extraEku.join(', ')} is not in the profile (${profile.extendedKeyUsage.join(', ') || 'none'})`);
    }
  },
};
