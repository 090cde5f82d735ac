import { decide } from '../../auth/principal.js';
import { AUTHORITY_PERMISSION, describeRequester, mintsAuthority } from '../requester.js';
import { HallmarkError } from '../../base/errors.js';
import type { Rule } from './types.js';

/**
 * Who may ask for this profile is the profile's own data (`requesters`); a profile that mints authority
 * is further limited to admins over REST, through a session or a key scoped for cert.authority.
 */
export const requesterAllowed: Rule = {
  name: 'requester-allowed',
  kind: 'csr',
  check({ requester, profile }) {
    const refuse = (why: string) => new HallmarkError('profile_not_allowed', `profile "${profile.name}" refuses this request: ${describeRequester(requester)} may not request it: ${why}`, 403, { rule: this.name });
    const { requesters } = profile;
    switch (requester.kind) {
      case 'system':
        return;
      case 'cli':
        if (!requesters.cli) throw refuse('the profile is not issued from the CLI');
        return;
      case 'enrollment':
      case 'renewal':
      case 'station':
        if (!requesters[requester.kind]) throw refuse(`the profile does not accept ${requester.kind === 'station' ? 'stations' : requester.kind}`);
        return;
      default: {
        if (!requesters.rest.kinds.includes(requester.kind)) throw refuse(`the profile accepts REST requests only from ${requesters.rest.kinds.join(', ') || 'nobody'}`);
        if (!requesters.rest.roles.includes(requester.role)) throw refuse(`the profile accepts REST requests only from role ${requesters.rest.roles.join(', ') || '(none)'}`);
        if (mintsAuthority(profile)) {
          const decision = decide({ kind: requester.kind, id: '', name: '', role: requester.role, scopes: requester.scopes, expiresAt: requester.expiresAt }, AUTHORITY_PERMISSION);
          if (!decision.allowed) throw refuse(`it mints authority, which needs an admin session or an admin API key scoped for ${AUTHORITY_PERMISSION} (${decision.reason})`);
        }
      }
    }
  },
};
