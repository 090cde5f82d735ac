import { fillTemplate } from './template.js';
import { isIP } from 'node:net';
import { policyViolation, type Rule } from './types.js';
import { cnIsServerName } from './names-within-profile.js';

/** Requested names (already checked) plus the profile's own `add` names, without duplicates. */
export const namesFromProfile: Rule = {
  name: 'names-from-profile',
  kind: 'shape',
  apply(draft, request) {
    const { names } = request.csr.requested;
    const add = (type: keyof typeof draft.names, value: string) => {
      if (!draft.names[type].includes(value)) draft.names[type].push(value);
    };
    for (const type of ['dns', 'uri', 'ip', 'email'] as const) names[type].forEach((v) => add(type, v));
    // A server's CN (already checked as a name it may have) is repeated in the SAN, where clients look.
    const cn = request.csr.commonName;
    if (cnIsServerName(request) && cn !== undefined) add(isIP(cn) ? 'ip' : 'dns', cn);
    for (const entry of request.profile.subjectAltName.add) {
      const colon = entry.indexOf(':');
      const type = entry.slice(0, colon) as keyof typeof draft.names;
      const value = fillTemplate(entry.slice(colon + 1), request);
      if (value === undefined) throw policyViolation(this.name, request.profile, `the name ${entry} needs a value this request does not supply`);
      add(type, value);
    }
  },
};
