import { isRestRequester } from '../requester.js';
import type { Rule } from './types.js';

/**
 * A certificate that grants a role never outlives the credential that asked for it (an API key's
 * expiry, a client certificate's notAfter, a session's end), unless an admin session asked: a short
 * credential cannot mint a long one.
 */
export const validityWithinCredential: Rule = {
  name: 'validity-within-credential',
  kind: 'shape',
  apply(draft, { requester, profile }) {
    if (!profile.role || !isRestRequester(requester) || !requester.expiresAt) return;
    if (requester.kind === 'session' && requester.role === 'admin') return;
    const limit = Math.floor(requester.expiresAt.getTime() / 1000) * 1000;
    if (draft.notAfter.getTime() > limit) draft.notAfter = new Date(limit);
  },
};
