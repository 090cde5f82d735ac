import type { Request, RequestHandler } from 'express';
import type { TLSSocket } from 'node:tls';
import { checkApiKey, keyScopes, keySigners } from '../auth/api-keys.js';
import { principalFromCertificate } from './client-certificates.js';
import { checkSession, type SessionPolicy } from '../auth/sessions.js';
import { csrfMatches, isSafeMethod, sessionCookieOf } from './session-cookie.js';
import { actorName, decide, type Principal } from '../auth/principal.js';
import type { Permission } from '../auth/permissions.js';
import type { AuthFailureGuard, FailureSubject } from '../alerts/auth-failures.js';
import type { DenialAudit } from '../audit/denials.js';
import { normalizeSerial } from '../x509/serial.js';
import type { AuditLog } from '../audit/log.js';
import type { Clock } from '../base/clock.js';
import type { Store } from '../store/handle.js';
import type { CertificateQueries } from '../store/certificates.js';
import type { Profile } from '../profiles/schema.js';
import { sendError } from './errors.js';
import { metrics } from '../observability/metrics.js';

export type { Principal } from '../auth/principal.js';
export { actorName } from '../auth/principal.js';

export interface AuthDeps {
  store: Store;
  audit: AuditLog;
  clock: Clock;
  certificates: CertificateQueries;
  profiles: Map<string, Profile>;
  guard: AuthFailureGuard;
  sessionPolicy: SessionPolicy;
  /** Failures and refusals are audited through it: repeats folded, so that nobody can fill the log. */
  denials: Pick<DenialAudit, 'record'>;
}

type WithPrincipal = Request & { principal?: Principal; sessionId?: string };
export const principalOf = (req: Request): Principal => (req as WithPrincipal).principal!;
export const sessionIdOf = (req: Request): string | undefined => (req as WithPrincipal).sessionId;

const source = (req: Request) => req.ip ?? 'unknown';
const target = (req: Request) => `${req.method} ${req.originalUrl.split('?')[0]}`;

/**
 * The credential a request names, read without checking it: the id in an API key or session token, or
 * the serial of the client certificate. What a block is looked up by, before any database read.
 */
export function claimedCredential(req: Request): string | undefined {
  const header = req.get('authorization');
  const bearer = header === undefined ? undefined : /^Bearer\s+(\S+)$/i.exec(header)?.[1];
  const token = bearer ?? (header === undefined ? sessionCookieOf(req) : undefined);
  const id = token && /^hm([ks])_([0-9a-f]+)_/.exec(token);
  if (id) return `${id[1] === 'k' ? 'apikey' : 'session'}:${id[2]}`;
  if (header !== undefined) return undefined;
  const serial = (req.socket as TLSSocket).getPeerCertificate?.()?.serialNumber;
  const normal = serial ? normalizeSerial(serial) : undefined;
  return normal ? `certificate:${normal}` : undefined;
}

const subjectOf = (req: Request): FailureSubject => ({ source: source(req), credential: claimedCredential(req) });

/**
 * Refuses a request whose address, credential, or the two together failed authentication too often
 * (the guard raised an alert when it blocked); docs/security-model.md, "Authentication failures".
 */
export function refuseBlockedSources(deps: Pick<AuthDeps, 'guard' | 'clock'>): RequestHandler {
  return (req, res, next) => {
    const wait = deps.guard.blockedFor(subjectOf(req), deps.clock.now());
    if (!wait) return next();
    metrics.rateLimited.inc({ group: 'blocked-source' });
    res.set('Retry-After', String(wait));
    sendError(res, 429, 'blocked', 'too many failed authentications with this credential or from this address; retry later, or ask an operator to lift the block (hallmark security blocks)');
  };
}

/**
 * Bearer API key (`hmk_…`) or operator session (`hms_…`), else a TLS client certificate issued
 * here under a profile that grants a role. Every failure is audited (key or session id, never the
 * secret), counts toward the source's block, and answers 401 with a Bearer challenge (RFC 6750 §3).
 */
export function authenticate(deps: AuthDeps): RequestHandler {
  return async (req, res, next) => {
    const now = deps.clock.now();
    /** `known`: the actor names a credential that exists; the failure counts against it, else against the address. */
    const fail = async (reason: string, actor: string, known = false) => {
      metrics.authFailures.inc({ kind: actor.split(':')[0]! });
      deps.guard.recordFailure({ source: source(req), credential: known ? actor : undefined }, now);
      await deps.denials.record({ actor, action: 'auth.failure', target: target(req), outcome: 'failure', source: source(req), details: { reason } });
      res.set('WWW-Authenticate', 'Bearer realm="hallmark", error="invalid_token"');
      sendError(res, 401, 'unauthenticated', reason);
    };
    const header = req.get('authorization');
    const bearer = header === undefined ? undefined : (/^Bearer\s+(\S+)$/i.exec(header)?.[1] ?? '');
    // An operator session comes as a Bearer token (API clients) or in the console's cookie.
    const cookie = bearer === undefined ? sessionCookieOf(req) : undefined;
    const sessionToken = bearer?.startsWith('hms_') ? bearer : cookie;
    if (sessionToken !== undefined) {
      const check = await checkSession(deps.store, sessionToken, deps.sessionPolicy, now);
      if (!check.ok) return fail(`session is ${check.reason === 'unknown' ? 'not valid' : check.reason}`, check.id ? `session:${check.id}` : 'anonymous', check.known);
      // A state change made with the cookie must carry the CSRF token the console got at sign-in.
      if (cookie !== undefined && !isSafeMethod(req.method) && !csrfMatches(cookie, req.get('x-csrf-token'))) {
        await deps.denials.record({ actor: `session:${check.id}`, action: 'auth.csrf', target: target(req), outcome: 'failure', source: source(req) });
        return void sendError(res, 403, 'csrf', 'a state change from the console needs its X-CSRF-Token header');
      }
      (req as WithPrincipal).principal = { kind: 'session', id: check.id, name: check.operator.name, role: check.operator.role, scopes: null, expiresAt: check.expiresAt };
      (req as WithPrincipal).sessionId = check.id;
      return next();
    }
    if (bearer !== undefined) {
      const check = await checkApiKey(deps.store, bearer, now);
      if (!check.ok) return fail(`API key is ${check.reason === 'unknown' ? 'not valid' : check.reason}`, check.id ? `apikey:${check.id}` : 'anonymous', check.known);
      (req as WithPrincipal).principal = { kind: 'apikey', id: check.key.id, name: check.key.label ?? check.key.id, role: check.key.role, scopes: keyScopes(check.key), signers: keySigners(check.key), expiresAt: check.key.expires_at === null ? null : new Date(Number(check.key.expires_at)) };
      return next();
    }
    const cert = await principalFromCertificate(req.socket as TLSSocket, deps.certificates, deps.profiles, now);
    if (cert?.ok) {
      (req as WithPrincipal).principal = cert.principal;
      return next();
    }
    if (cert) return fail(cert.reason, cert.serial ? `certificate:${cert.serial}` : 'anonymous', cert.known);
    res.set('WWW-Authenticate', 'Bearer realm="hallmark"');
    sendError(res, 401, 'unauthenticated', 'this route needs "Authorization: Bearer <api key or session>" or a client certificate issued here');
  };
}

/** The one permission check on every protected route; refusals are audited too (repeats folded). */
/** Routes that are a person's decision (RouteSpec.sessionOnly): an operator session, never a key or a certificate. */
export function requireSession(audit: Pick<AuditLog, 'record'>): RequestHandler {
  return async (req, res, next) => {
    const principal = principalOf(req);
    if (principal.kind === 'session') return next();
    const reason = 'only an operator session (password and authenticator: hallmark login, or the console) may do this, never an API key or a client certificate';
    await audit.record({ actor: actorName(principal), action: 'auth.denied', target: target(req), outcome: 'failure', source: source(req), details: { reason } });
    sendError(res, 403, 'session_required', reason);
  };
}

export function requirePermission(permission: Permission, audit: Pick<AuditLog, 'record'>): RequestHandler {
  return async (req, res, next) => {
    const principal = principalOf(req);
    const decision = decide(principal, permission);
    if (decision.allowed) return next();
    await audit.record({ actor: actorName(principal), action: 'auth.denied', target: target(req), outcome: 'failure', source: source(req), details: { permission, reason: decision.reason } });
    sendError(res, 403, 'forbidden', decision.reason);
  };
}
