import type { Store } from '../store/handle.js';
import type { SecretSealer } from '../keys/key-store.js';
import type { OperatorSessions } from '../protocols/rest/sessions.js';
import { checkOperatorLogin } from '../auth/operators.js';
import { checkSession, closeSession, openSession, rotateSession, type SessionPolicy } from '../auth/sessions.js';
import { findOperator } from '../store/credentials.js';

/** Operators' logins and sessions bound to the store, the token's sealer (TOTP seeds) and the session policy. */
export function operatorSessions(store: Store, sealer: SecretSealer, policy: SessionPolicy): OperatorSessions {
  return {
    checkLogin: (login, now) => checkOperatorLogin(store, sealer, login, now),
    isOperator: async (name) => Boolean(await findOperator(store, name)),
    open: (operator, now, source) => openSession(store, operator, policy, now, source),
    check: (token, now) => checkSession(store, token, policy, now),
    rotate: (id, now) => rotateSession(store, id, policy, now),
    close: (id, now) => closeSession(store, id, now),
  };
}
