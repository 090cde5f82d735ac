import { policyViolation, type Rule } from './types.js';

export const validityInsideIssuer: Rule = {
  name: 'validity-inside-issuer',
  kind: 'final',
  check(draft, request, { now, issuer }) {
    if (issuer.notAfter <= now) throw policyViolation(this.name, request.profile, `issuing CA "${issuer.name}" has expired`);
    if (draft.notBefore < issuer.notBefore || draft.notAfter > issuer.notAfter) {
      throw policyViolation(this.name, request.profile, `validity would fall outside issuing CA "${issuer.name}"'s own`);
    }
    if (draft.notAfter <= draft.notBefore) throw policyViolation(this.name, request.profile, 'validity would be empty');
  },
};
