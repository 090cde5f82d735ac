import { policyViolation, type Rule } from './types.js';

export const keyTypeAllowed: Rule = {
  name: 'key-type-allowed',
  kind: 'csr',
  check({ csr, profile }) {
    const type = csr.keyType;
    if (typeof type !== 'string') throw policyViolation(this.name, profile, `unsupported key (${type.unsupported}); allowed: ${profile.keyTypes.join(', ')}`);
    if (!profile.keyTypes.includes(type)) throw policyViolation(this.name, profile, `key type ${type} is not allowed; allowed: ${profile.keyTypes.join(', ')}`);
  },
};
