import type { Request } from 'express';
import { z } from 'zod';
import type { OperatorRow } from '../../auth/operators.js';
import type { IssuedSession, SessionCheck, SessionPolicy } from '../../auth/sessions.js';
import type { AuthFailureGuard } from '../../alerts/auth-failures.js';
import type { DenialAudit } from '../../audit/denials.js';
import type { AuditLog } from '../../audit/log.js';
import type { Clock } from '../../base/clock.js';
import { HallmarkError } from '../../base/errors.js';
import { principalOf, sessionIdOf } from '../../http/authenticate.js';
import { sendError } from '../../http/errors.js';
import type { RouteSpec } from '../../http/routes.js';
import { sessionAnswer, whoamiAnswer } from './answers.js';
import { parseOrThrow } from './validation.js';

const loginBody = z.strictObject({ name: z.string().min(1).max(64), password: z.string().min(1).max(1024), totp: z.string().min(1).max(10) });

/** Operators' credentials and sessions as the login routes use them; built by the composition root. */
export interface OperatorSessions {
  /** The operator when name, password and TOTP code are right (the code is then used up), else undefined. */
  checkLogin(login: LoginBody, now: Date): Promise<OperatorRow | undefined>;
  isOperator(name: string): Promise<boolean>;
  open(operator: string, now: Date, source?: string): Promise<IssuedSession>;
  check(token: string, now: Date): Promise<SessionCheck>;
  rotate(id: string, now: Date): Promise<IssuedSession | undefined>;
  close(id: string, now: Date): Promise<void>;
}

export interface SessionDeps {
  sessions: OperatorSessions;
  audit: AuditLog;
  clock: Clock;
  guard: AuthFailureGuard;
  policy: SessionPolicy;
  denials: Pick<DenialAudit, 'record'>;
}

function requireSession(req: Request, what: string): string {
  const id = sessionIdOf(req);
  if (!id) throw new HallmarkError('not_a_session', `only an operator session can be ${what}`, 400);
  return id;
}

export type LoginBody = z.infer<typeof loginBody>;
export const parseLogin = (body: unknown) => parseOrThrow(loginBody, body, 'body');

/**
 * Password + TOTP → a new session, audited either way; undefined (and a counted failure) when refused.
 * Failures count per account and address; an account blocked (from this address, or everywhere after
 * failures from many) is refused with 429 before its password is even checked.
 */
export async function operatorLogin(deps: SessionDeps, body: LoginBody, source: string | undefined, target: string) {
  const now = deps.clock.now();
  const subject = { source: source ?? 'unknown', credential: `operator:${body.name}` };
  const wait = deps.guard.blockedFor(subject, now);
  if (wait) throw new HallmarkError('blocked', 'too many failed sign-ins for this account; retry later, or ask an operator to lift the block (hallmark security blocks)', 429, { retryAfter: wait });
  const operator = await deps.sessions.checkLogin(body, now);
  if (!operator) {
    // An unknown name counts against the address (guessing names), a known one against the account.
    const known = await deps.sessions.isOperator(body.name);
    deps.guard.recordFailure(known ? subject : { source: subject.source }, now);
    await deps.denials.record({ actor: `operator:${body.name}`, action: 'auth.failure', target, outcome: 'failure', source, details: { reason: 'login refused' } });
    return undefined;
  }
  const session = await deps.sessions.open(operator.name, now, source);
  await deps.audit.record({ actor: `operator:${operator.name}`, action: 'session.open', target: session.id, outcome: 'success', source });
  return { session, operator };
}

export function sessionRoutes(deps: SessionDeps): RouteSpec[] {
  return [
    {
      method: 'post',
      path: '/sessions',
      permission: 'public',
      rateLimit: 'auth',
      summary: 'Operator login: password + TOTP (RFC 6238) → short-lived session token',
      body: loginBody,
      answers: { status: 201, schema: sessionAnswer, description: 'A session token' },
      example: { request: { name: 'alice', password: '…', totp: '123456' } },
      jsonBody: '4kb',
      handler: async (req, res) => {
        const login = await operatorLogin(deps, parseLogin(req.body), req.ip, 'POST /api/v1/sessions');
        if (!login) return sendError(res, 401, 'unauthenticated', 'name, password or TOTP code not accepted');
        const { session, operator } = login;
        res.status(201).json({ token: session.token, expiresAt: session.expiresAt.toISOString(), idleTimeoutSeconds: session.idleTimeoutSeconds, role: operator.role });
      },
    },
    {
      method: 'post',
      path: '/sessions/refresh',
      permission: 'authenticated',
      summary: 'Rotate the session token (the old one stops working)',
      answers: { status: 201, schema: sessionAnswer, description: 'A new token; the old one stops working' },
      handler: async (req, res) => {
        const id = requireSession(req, 'refreshed');
        const next = await deps.sessions.rotate(id, deps.clock.now());
        if (!next) return sendError(res, 401, 'unauthenticated', 'this session was already refreshed or closed; sign in again');
        await deps.audit.record({ actor: `operator:${principalOf(req).name}`, action: 'session.rotate', target: next.id, outcome: 'success', source: req.ip, details: { previous: id } });
        res.status(201).json({ token: next.token, expiresAt: next.expiresAt.toISOString(), idleTimeoutSeconds: next.idleTimeoutSeconds });
      },
    },
    {
      method: 'delete',
      path: '/sessions/current',
      permission: 'authenticated',
      summary: 'Log out',
      answers: { status: 204, description: 'Logged out' },
      handler: async (req, res) => {
        const id = requireSession(req, 'closed');
        await deps.sessions.close(id, deps.clock.now());
        await deps.audit.record({ actor: `operator:${principalOf(req).name}`, action: 'session.close', target: id, outcome: 'success', source: req.ip });
        res.status(204).end();
      },
    },
    {
      method: 'get',
      path: '/whoami',
      permission: 'authenticated',
      summary: 'The principal this request authenticates as',
      answers: { status: 200, schema: whoamiAnswer, description: 'Who this request authenticates as' },
      handler: (req, res) => {
        const p = principalOf(req);
        res.json({ kind: p.kind, id: p.kind === 'session' ? undefined : p.id, name: p.name, role: p.role, scopes: p.scopes });
      },
    },
  ];
}
