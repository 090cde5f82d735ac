import { policyViolation, type Rule } from './types.js';

export const identityFormat: Rule = {
  name: 'identity-format',
  kind: 'csr',
  check({ identity, profile }) {
    if (identity === undefined || identity === '') {
      if (profile.identity.required) throw policyViolation(this.name, profile, 'an identity (device id) is required: pass --device <id> or "device" in the request');
      return;
    }
    if (!new RegExp(profile.identity.pattern).test(identity)) {
      throw policyViolation(this.name, profile, `identity "${identity}" does not match ${profile.identity.pattern}`);
    }
  },
};
