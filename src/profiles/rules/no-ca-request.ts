import { policyViolation, type Rule } from './types.js';

/** Profiles issue end-entity certificates only; CA certificates come from the CA ceremony. */
export const noCaRequest: Rule = {
  name: 'no-ca-request',
  kind: 'csr',
  check({ csr, profile }) {
    if (csr.requested.ca) throw policyViolation(this.name, profile, 'the CSR asks for a CA certificate (basicConstraints CA:TRUE)');
    const caUsages = csr.requested.keyUsage.filter((u) => u === 'keyCertSign' || u === 'cRLSign');
    if (caUsages.length) throw policyViolation(this.name, profile, `the CSR asks for CA key usages (${caUsages.join(', ')})`);
  },
};
