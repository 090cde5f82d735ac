import { isIP } from 'node:net';
import { policyViolation, type Rule } from './types.js';
import type { IssuanceRequest, RuleContext } from './types.js';
import { fillTemplate } from './template.js';

/** A profile whose subject CN is the CSR's and whose certificates serve TLS: the CN is a name it serves. */
export const cnIsServerName = (request: IssuanceRequest) =>
  request.profile.extendedKeyUsage.includes('serverAuth') && Object.values(request.profile.subject).some((t) => t.includes('{csr.CN}'));

const SERVICE_NAME_CASE = (name: string) => name.toLowerCase();

/** Whether `value` of `type` is a name the profile accepts from a CSR; the reason when not. */
function refusal(type: 'dns' | 'uri' | 'email' | 'ip', value: string, request: IssuanceRequest, context: RuleContext): string | undefined {
  const { fromCsr, wildcards } = request.profile.subjectAltName;
  if (type === 'dns' && value.includes('*') && !wildcards) return `wildcard name "${value}" is not accepted by this profile`;
  if ((type === 'dns' || type === 'ip') && fromCsr.serviceNames && context.serviceNames.some((n) => SERVICE_NAME_CASE(n) === SERVICE_NAME_CASE(value))) return undefined;
  if (type === 'ip') {
    if (!fromCsr.ip) return `IP address ${value} is not accepted from a CSR${fromCsr.serviceNames ? ' (not one of the configured tlsNames)' : ''}`;
    return isIP(value) ? undefined : `"${value}" is not an IP address`;
  }
  const pattern = fromCsr[type];
  if (!pattern) return `${type} name "${value}" is not accepted from a CSR${fromCsr.serviceNames && type === 'dns' ? ' (not one of the configured tlsNames)' : ''}`;
  if (!new RegExp(pattern).test(value)) return `${type} name "${value}" does not match ${pattern}`;
  return undefined;
}

/**
 * Requested subject alternative names must each be accepted by the profile (a pattern per type, or the
 * configured service names), at most `maxNames` of them; a server profile's CN counts as one of its names.
 */
export const namesWithinProfile: Rule = {
  name: 'names-within-profile',
  kind: 'csr',
  check(request, context) {
    const { csr, profile } = request;
    const { names } = csr.requested;
    if (names.other.length) throw policyViolation(this.name, profile, `name types not accepted from a CSR: ${names.other.join(', ')}`);
    const asked = [...names.dns.map((v) => ['dns', v] as const), ...names.uri.map((v) => ['uri', v] as const), ...names.email.map((v) => ['email', v] as const), ...names.ip.map((v) => ['ip', v] as const)];
    if (cnIsServerName(request) && csr.commonName !== undefined) asked.push([isIP(csr.commonName) ? 'ip' : 'dns', csr.commonName]);
    if (!asked.length) return;
    // The names the profile adds itself (`subjectAltName.add`, filled for this identity) are no request:
    // a renewal repeats them, as RFC 7030 §4.2.2 asks, and the reference EST client copies every
    // extension of the certificate it renews into its CSR.
    const own = new Set(profile.subjectAltName.add.map((entry) => {
      const colon = entry.indexOf(':');
      return `${entry.slice(0, colon)}:${fillTemplate(entry.slice(colon + 1), request) ?? ''}`;
    }));
    const requested = asked.filter(([t, v]) => !own.has(`${t}:${v}`));
    const distinct = new Set(requested.map(([t, v]) => `${t}:${v}`)).size;
    if (distinct > profile.subjectAltName.maxNames) throw policyViolation(this.name, profile, `${distinct} names requested; this profile accepts at most ${profile.subjectAltName.maxNames}`);
    for (const [type, value] of requested) {
      const why = refusal(type, value, request, context);
      if (why) throw policyViolation(this.name, profile, why);
    }
  },
};
