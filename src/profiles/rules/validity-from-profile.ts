import type { Rule } from './types.js';

const DAY = 86_400_000;

/**
 * notBefore is backdated a little for device clock skew; notAfter is the requested (or default)
 * lifetime, cut at the issuer's own notAfter so a certificate never outlives its CA.
 */
export const validityFromProfile: Rule = {
  name: 'validity-from-profile',
  kind: 'shape',
  apply(draft, request, { now, issuer }) {
    const { validity } = request.profile;
    const notBefore = new Date(Math.max(now.getTime() - validity.backdateSeconds * 1000, issuer.notBefore.getTime()));
    const days = request.validityDays ?? validity.defaultDays;
    const notAfter = new Date(Math.min(now.getTime() + days * DAY, issuer.notAfter.getTime()));
    draft.notBefore = new Date(Math.floor(notBefore.getTime() / 1000) * 1000);
    draft.notAfter = new Date(Math.floor(notAfter.getTime() / 1000) * 1000);
  },
};
