import path from 'node:path';
import express, { Router, type Request, type RequestHandler } from 'express';
import { projectRoot } from '../config/env.js';
import { operatorLogin, parseLogin, type SessionDeps } from '../protocols/rest/sessions.js';
import { sendError } from '../http/errors.js';
import { requireJson } from '../http/routes.js';
import { ROLE_PERMISSIONS } from '../auth/permissions.js';
import type { Role } from '../auth/roles.js';
import { clearSessionCookie, csrfMatches, csrfTokenFor, sessionCookieOf, setSessionCookie } from '../http/session-cookie.js';

/**
 * Only this origin's files, no inline script or style, no framing, no plugins; data only from the
 * same origin's API (CSP Level 3).
 */
export const CONSOLE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";

/** The operator and what their role may do: the page shows only those actions (the API decides regardless). */
const who = (name: string, role: Role) => ({ name, role, permissions: ROLE_PERMISSIONS[role] });

/**
 * The operator console under /console: its static files (built by `npm run build` into
 * dist/console), and sign-in/sign-out, which turn an operator session into the console's cookie.
 * Everything else the page does goes through /api/v1 with that cookie.
 */
export function createConsoleRouter(deps: SessionDeps & { loginGuards: RequestHandler[] }): Router {
  const router = Router();
  const csp: RequestHandler = (_req, res, next) => {
    res.set('Content-Security-Policy', CONSOLE_CSP);
    next();
  };
  router.use(csp);

  // Express 5 passes a rejected handler to the error handler (invalid body → 400).
  router.post('/session', ...deps.loginGuards, requireJson, express.json({ limit: '4kb', strict: true }), async (req, res) => {
    const login = await operatorLogin(deps, parseLogin(req.body), req.ip, 'POST /console/session');
    if (!login) return sendError(res, 401, 'unauthenticated', 'name, password or TOTP code not accepted');
    setSessionCookie(res, login.session.token, (login.session.expiresAt.getTime() - deps.clock.now().getTime()) / 1000);
    res.status(201).json({ ...who(login.operator.name, login.operator.role), csrfToken: csrfTokenFor(login.session.token), idleTimeoutSeconds: login.session.idleTimeoutSeconds });
  });

  /** The live session the request's cookie carries, if any. */
  async function cookieSession(req: Request) {
    const token = sessionCookieOf(req);
    const check = token ? await deps.sessions.check(token, deps.clock.now()) : undefined;
    return token && check?.ok ? { token, id: check.id, operator: check.operator } : undefined;
  }

  router.get('/session', async (req, res) => {
    const session = await cookieSession(req);
    if (!session) return sendError(res, 401, 'unauthenticated', 'sign in');
    res.json({ ...who(session.operator.name, session.operator.role), csrfToken: csrfTokenFor(session.token), idleTimeoutSeconds: Math.round(deps.policy.idleMs / 1000) });
  });

  router.delete('/session', async (req, res) => {
    const check = await cookieSession(req);
    clearSessionCookie(res);
    if (!check) return void res.status(204).end();
    if (!csrfMatches(check.token, req.get('x-csrf-token'))) return sendError(res, 403, 'csrf', 'sign-out needs the X-CSRF-Token header');
    await deps.sessions.close(check.id, deps.clock.now());
    await deps.audit.record({ actor: `operator:${check.operator.name}`, action: 'session.close', target: check.id, outcome: 'success', source: req.ip });
    res.status(204).end();
  });

  router.get('/', (req, res, next) => (req.originalUrl.endsWith('/') ? next() : res.redirect(301, '/console/')));
  router.use(express.static(path.join(projectRoot(), 'dist', 'console'), { index: 'index.html', fallthrough: true, dotfiles: 'deny' }));
  return router;
}
