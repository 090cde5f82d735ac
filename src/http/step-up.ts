import type { RequestHandler } from 'express';
import type { AuthFailureGuard } from '../alerts/auth-failures.js';
import type { DenialAudit } from '../audit/denials.js';
import type { Clock } from '../base/clock.js';
import { principalOf } from './authenticate.js';
import { sendError } from './errors.js';

/** The header that carries the fresh authenticator code. */
export const FRESH_CODE_HEADER = 'x-hallmark-totp';

export interface StepUpDeps {
  /** True when `code` is the operator's current authenticator code, not used before (then used up). */
  checkFreshCode(operator: string, code: string, now: Date): Promise<boolean>;
  guard: AuthFailureGuard;
  denials: Pick<DenialAudit, 'record'>;
  clock: Clock;
}

/**
 * Step-up for high-impact actions (minting or removing credentials): an operator session must send a
 * fresh authenticator code in `X-Hallmark-TOTP` with the request, so that a session left open at a
 * desk or a stolen session token cannot hand out keys. API keys and client certificates are not
 * interactive and carry no second factor; their reach is their role and scopes. A wrong code counts
 * as an authentication failure of that operator (the same blocking as a failed sign-in).
 */
export function requireFreshCode(deps: StepUpDeps): RequestHandler {
  return async (req, res, next) => {
    const principal = principalOf(req);
    if (principal.kind !== 'session') return next();
    const code = req.get(FRESH_CODE_HEADER);
    const target = `${req.method} ${req.originalUrl.split('?')[0]}`;
    if (!code) {
      await deps.denials.record({ actor: `session:${principal.id}`, action: 'auth.denied', target, outcome: 'failure', source: req.ip, details: { reason: 'no fresh authenticator code' } });
      return sendError(res, 403, 'fresh_totp_required', `this action needs a fresh authenticator code: send it in the ${FRESH_CODE_HEADER} header (the console asks for it)`);
    }
    const now = deps.clock.now();
    if (await deps.checkFreshCode(principal.name, code, now)) return next();
    deps.guard.recordFailure({ source: req.ip ?? 'unknown', credential: `operator:${principal.name}` }, now);
    await deps.denials.record({ actor: `session:${principal.id}`, action: 'auth.failure', target, outcome: 'failure', source: req.ip, details: { reason: 'fresh authenticator code not accepted' } });
    sendError(res, 403, 'fresh_totp_refused', 'authenticator code not accepted (wrong, or already used: wait for the next one)');
  };
}
