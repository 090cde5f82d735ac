import type { AttributeName } from '../../x509/names.js';
import { fillTemplate } from './template.js';
import { policyViolation, type Rule } from './types.js';

/** The subject comes from the profile, never verbatim from the CSR. */
export const subjectFromProfile: Rule = {
  name: 'subject-from-profile',
  kind: 'shape',
  apply(draft, request) {
    for (const [attribute, template] of Object.entries(request.profile.subject) as [AttributeName, string][]) {
      const value = fillTemplate(template, request);
      if (value === undefined) {
        if (attribute === 'CN') throw policyViolation(this.name, request.profile, `the subject needs ${template}, which this request does not supply`);
        continue;
      }
      if (value.length > 64) throw policyViolation(this.name, request.profile, `subject ${attribute} would be longer than 64 characters (RFC 5280 ub-name)`);
      draft.subject.push([attribute, value]);
    }
  },
};
