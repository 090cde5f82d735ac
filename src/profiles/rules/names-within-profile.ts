import { isIP } from 'node:net';
import { policyViolation, type Rule } from './types.js';

/** Requested subject alternative names must each match the profile's fromCsr rule for their type. */
export const namesWithinProfile: Rule = {
  name: 'names-within-profile',
  kind: 'csr',
  check({ csr, profile }) {
    const { names } = csr.requested;
    const allowed = profile.subjectAltName.fromCsr;
    if (names.other.length) throw policyViolation(this.name, profile, `name types not accepted from a CSR: ${names.other.join(', ')}`);
    for (const [type, values] of [['dns', names.dns], ['uri', names.uri], ['email', names.email]] as const) {
      const pattern = allowed[type];
      for (const value of values) {
        if (!pattern) throw policyViolation(this.name, profile, `${type} names are not accepted from a CSR (${value})`);
        if (!new RegExp(pattern).test(value)) throw policyViolation(this.name, profile, `${type} name "${value}" does not match ${pattern}`);
      }
    }
    for (const ip of names.ip) {
      if (!allowed.ip) throw policyViolation(this.name, profile, `IP addresses are not accepted from a CSR (${ip})`);
      if (!isIP(ip)) throw policyViolation(this.name, profile, `"${ip}" is not an IP address`);
    }
  },
};
