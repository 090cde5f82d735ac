import type { Request, RequestHandler } from 'express';
import { checkApiKey, type Role } from '../auth/api-keys.js';
import { roleAllows, type Permission } from '../auth/permissions.js';
import type { AuditLog } from '../audit/log.js';
import type { Clock } from '../clock.js';
import type { Db } from '../store/db.js';
import { sendError } from './errors.js';

export interface Principal {
  kind: 'apikey';
  id: string;
  role: Role;
}

export const principalOf = (req: Request): Principal => (req as Request & { principal: Principal }).principal;
export const actorName = (p: Principal) => `${p.kind}:${p.id}`;

/**
 * Bearer API key → principal. Failures answer 401 with a challenge (RFC 6750 §3) and are audited
 * with the key id when there is one, never with the presented secret.
 */
export function authenticate(deps: { db: Db; audit: AuditLog; clock: Clock }): RequestHandler {
  return async (req, res, next) => {
    try {
      const header = req.get('authorization') ?? '';
      const m = /^Bearer\s+(\S+)$/i.exec(header);
      if (!m) {
        res.set('WWW-Authenticate', 'Bearer realm="hallmark"');
        return sendError(res, 401, 'unauthenticated', 'this route needs "Authorization: Bearer <api key>"');
      }
      const check = await checkApiKey(deps.db, m[1]!, deps.clock.now());
      if (!check.ok) {
        await deps.audit.record({
          actor: check.id ? `apikey:${check.id}` : 'anonymous',
          action: 'auth.failure',
          target: `${req.method} ${req.baseUrl}${req.path}`,
          outcome: 'failure',
          source: req.ip,
          details: { reason: check.reason },
        });
        res.set('WWW-Authenticate', 'Bearer realm="hallmark", error="invalid_token"');
        return sendError(res, 401, 'unauthenticated', `API key is ${check.reason === 'malformed' ? 'malformed' : check.reason === 'unknown' ? 'not valid' : check.reason}`);
      }
      (req as Request & { principal: Principal }).principal = { kind: 'apikey', id: check.key.id, role: check.key.role };
      next();
    } catch (e) {
      next(e);
    }
  };
}

export function requirePermission(permission: Permission): RequestHandler {
  return (req, res, next) => {
    const principal = principalOf(req);
    if (!roleAllows(principal.role, permission)) {
      return sendError(res, 403, 'forbidden', `role ${principal.role} lacks permission ${permission}`);
    }
    next();
  };
}
