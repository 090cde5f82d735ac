import { policyViolation, type Rule } from './types.js';

/** C0 controls, DEL and C1 controls: never part of a name a relying party displays or compares. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const visible = (value: string) => JSON.stringify(value);

/**
 * Every subject attribute and name of the certificate, as shaped: no control characters (NUL, newline,
 * ESC, …), no wildcard unless the profile allows them, and a server certificate names what it serves
 * in its subject alternative names (RFC 6125 §6.4.4: clients no longer read the CN).
 */
export const namesCharacterSet: Rule = {
  name: 'names-character-set',
  kind: 'final',
  check(draft, { profile }) {
    for (const [attribute, value] of draft.subject) {
      if (CONTROL.test(value)) throw policyViolation(this.name, profile, `subject ${attribute} ${visible(value)} contains a control character`);
      if (attribute === 'CN' && value.includes('*') && !profile.subjectAltName.wildcards) throw policyViolation(this.name, profile, `subject CN ${visible(value)} is a wildcard, which this profile does not accept`);
    }
    for (const [type, values] of Object.entries(draft.names)) {
      for (const value of values as string[]) {
        if (CONTROL.test(value) || (type !== 'dns' && type !== 'email' && /\s/.test(value))) throw policyViolation(this.name, profile, `${type} name ${visible(value)} contains a control character or space`);
      }
    }
    if (profile.extendedKeyUsage.includes('serverAuth') && !draft.names.dns.length && !draft.names.ip.length) {
      throw policyViolation(this.name, profile, 'a TLS server certificate needs at least one DNS name or IP address in its subject alternative names');
    }
  },
};
