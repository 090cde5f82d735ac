import { policyViolation, type Rule } from './types.js';

export const validityWithinProfile: Rule = {
  name: 'validity-within-profile',
  kind: 'csr',
  check({ validityDays, profile }) {
    if (validityDays === undefined) return;
    if (!Number.isInteger(validityDays) || validityDays < 1) throw policyViolation(this.name, profile, `validity must be a whole number of days ≥ 1, got ${validityDays}`);
    if (validityDays > profile.validity.maxDays) {
      throw policyViolation(this.name, profile, `validity of ${validityDays} days exceeds the profile maximum of ${profile.validity.maxDays}`);
    }
  },
};
