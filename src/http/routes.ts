import type { z } from 'zod';
import express, { type RequestHandler, type Router } from 'express';
import type { Permission } from '../auth/permissions.js';
import type { AuditLog } from '../audit/log.js';
import { HallmarkError } from '../base/errors.js';
import { requirePermission, requireSession } from './authenticate.js';

export type RateGroup = 'auth' | 'enrollment' | 'provisioning';

/**
 * One REST route, declared as data: the app mounts every route the same way (rate limit →
 * authentication → permission → body → fresh code → handler), and tests and the API description read the same list.
 */
export interface RouteSpec {
  method: 'get' | 'post' | 'put' | 'delete';
  /** Relative to /api/v1. */
  path: string;
  /** `public`: no credential; `authenticated`: any principal. */
  permission: Permission | 'authenticated' | 'public';
  summary: string;
  rateLimit?: RateGroup;
  /**
   * High-impact: an operator session must also send a fresh authenticator code (http/step-up.ts).
   * Checked after the body is parsed, so that a malformed request does not use the code up.
   */
  stepUp?: true;
  /** A person's decision: only an operator session, never an API key or a client certificate. */
  sessionOnly?: true;
  /** JSON body size limit; routes without one take no body. */
  jsonBody?: string;
  /** The body's schema, the one its handler parses (for the OpenAPI description). */
  body?: z.ZodType;
  /** The query string's schema. */
  query?: z.ZodType;
  /** What success answers: the status and the body's schema (none: an empty body). */
  answers?: { status: number; schema?: z.ZodType; description: string };
  /** A request body and the answer to it, for the description. */
  example?: { request?: unknown; answer?: unknown };
  handler: RequestHandler;
}

export interface MountDeps {
  authenticate: RequestHandler;
  refuseBlocked: RequestHandler;
  rateLimiters: Record<RateGroup, RequestHandler>;
  /** Where refusals are audited (the security plane's denial audit, which folds repeats). */
  audit: Pick<AuditLog, 'record'>;
  /** The fresh-code check of `stepUp` routes. */
  stepUp: RequestHandler;
}

export const requireJson: RequestHandler = (req, _res, next) => {
  if (!req.is('application/json')) throw new HallmarkError('unsupported_media_type', 'send the request body as application/json', 415);
  next();
};

export function mountRoutes(router: Router, specs: RouteSpec[], deps: MountDeps): void {
  for (const spec of specs) {
    const chain: RequestHandler[] = [];
    if (spec.rateLimit) chain.push(deps.rateLimiters[spec.rateLimit]);
    chain.push(deps.refuseBlocked);
    if (spec.permission !== 'public') chain.push(deps.authenticate);
    if (spec.permission !== 'public' && spec.permission !== 'authenticated') chain.push(requirePermission(spec.permission, deps.audit));
    if (spec.sessionOnly) chain.push(requireSession(deps.audit));
    if (spec.jsonBody) chain.push(requireJson, express.json({ limit: spec.jsonBody, strict: true }));
    if (spec.stepUp) chain.push(deps.stepUp);
    router[spec.method](spec.path, ...chain, spec.handler);
  }
}
