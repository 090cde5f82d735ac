import { z } from 'zod';
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { Router, type Express, type RequestHandler } from 'express';
import type { AppContext } from './context.js';
import type { IssueDeps } from '../ca/issue.js';
import type { SecurityPlane } from './security-plane.js';
import { authenticate, refuseBlockedSources } from '../http/authenticate.js';
import { errorHandler, sendError } from '../http/errors.js';
import { securityHeaders } from '../http/security-headers.js';
import { createRateLimiter, rateLimit } from '../http/rate-limit.js';
import { mountRoutes, type RouteSpec } from '../http/routes.js';
import { signingRoutes } from '../protocols/rest/signing.js';
import { openApiDocument } from '../http/openapi.js';
import { createRequestLog, requestLog } from '../http/request-log.js';
import type { Logger } from '../observability/logger.js';
import { certificateRoutes } from '../protocols/rest/certificates.js';
import { casRoutes } from '../protocols/rest/cas.js';
import { apiKeyRoutes } from '../protocols/rest/apikeys.js';
import { sessionRoutes } from '../protocols/rest/sessions.js';
import { auditRoutes } from '../protocols/rest/audit.js';
import { revocationRoutes } from '../protocols/rest/revocation.js';
import { enrollmentRoutes } from '../protocols/rest/enroll.js';
import { enrollmentPorts } from './enrollment-ports.js';
import { attestationRoutes, stationAttestationRoutes } from '../protocols/rest/attestation.js';
import { operatorSessions } from './operator-sessions.js';
import { actorNames, issuanceOutcomes, listAuditEntries } from '../store/audit.js';
import { verifyAuditChain } from '../audit/verify.js';
import { writeCheckpoint } from '../audit/checkpoint.js';
import { factoryRoutes } from '../protocols/rest/factory.js';
import { deviceRoutes } from '../protocols/rest/devices.js';
import { enrollmentRequestRoutes } from '../protocols/rest/enrollment-requests.js';
import { consoleDataRoutes } from '../protocols/rest/console-data.js';
import { stationRoutes } from '../protocols/rest/stations.js';
import { tokenRoutes } from '../protocols/rest/tokens.js';
import { operatorRoutes } from '../protocols/rest/operators.js';
import { requireFreshCode } from '../http/step-up.js';
import { checkFreshCode } from '../auth/operators.js';
import { createEstHandler, isEstPath } from '../protocols/est/handler.js';
import type { KeyPackageSigner } from '../protocols/est/encrypted-key.js';
import { createConsoleRouter } from '../console/router.js';
import { cmpRouter } from '../protocols/cmp/handler.js';
import { isScepPath } from '../protocols/scep/handler.js';
import type { LoadedSigner } from '../signing/signers.js';
import type { RevokeDeps } from '../ca/revoke.js';

const PACKAGE_VERSION = '0.1.0';
const OPENAPI_ROUTE: RouteSpec = {
  method: 'get',
  path: '/openapi.json',
  permission: 'public',
  summary: 'This description of the REST API (OpenAPI 3.1)',
  answers: { status: 200, schema: z.looseObject({ openapi: z.literal('3.1.0'), paths: z.record(z.string(), z.unknown()) }), description: 'The description' },
  handler: () => {},
};

/** Every REST route under /api/v1, as data (tests and the API description read this list). */
export function restRoutes(ctx: AppContext, issue: IssueDeps, plane: SecurityPlane, revocation: RevokeDeps): RouteSpec[] {
  const { store, audit, clock } = ctx;
  const attestation = { store, audit, clock, anchors: ctx.config.attestation.tpmRootCertificates, challengeSeconds: ctx.config.attestation.challengeSeconds, profiles: ctx.config.profiles };
  const ports = enrollmentPorts(ctx, issue);
  return [
    ...sessionRoutes({ sessions: operatorSessions(store, plane.sealer, plane.sessionPolicy), audit, clock, guard: plane.guard, policy: plane.sessionPolicy, denials: plane.denials }),
    ...casRoutes(ctx.cas),
    ...certificateRoutes({ store, issue, certificates: ctx.certificates }),
    ...revocationRoutes(revocation),
    ...enrollmentRoutes({ ports, clock, config: ctx.config, guard: plane.guard, denials: plane.denials }),
    ...attestationRoutes({ attestation, ports, clock, config: ctx.config, guard: plane.guard, denials: plane.denials }),
    ...stationAttestationRoutes({ attestation }),
    ...factoryRoutes({ store, audit, issue, revocation, attestation, onProvisioned: plane.watchStationRate, staleReservationMs: ctx.config.factory.staleReservationSeconds * 1000, reservationLeaseMs: ctx.config.factory.reservationLeaseSeconds * 1000 }),
    ...apiKeyRoutes({ store, audit, clock }),
    ...enrollmentRequestRoutes({ store, audit, clock }),
    ...auditRoutes({
      audit,
      log: {
        // Readers first chain what is pending, so that they see every entry appended before they asked.
        entries: async (query) => (await audit.sequence(), listAuditEntries(store, query)),
        outcomes: (serials) => issuanceOutcomes(store, serials),
        actorNames: (actors) => actorNames(store, actors),
        verify: async () => (await audit.sequence(), verifyAuditChain(store, await plane.checkpointSigner())),
        checkpoint: async () => (await audit.sequence(), writeCheckpoint(store, await plane.checkpointSigner(), ctx.env.tokenLabel, clock)),
      },
    }),
    ...consoleDataRoutes({ store, clock, cas: ctx.cas, keys: ctx.keys, tokenLabel: ctx.env.tokenLabel }, issue),
    ...stationRoutes({ store, audit, clock, issue, revocation }),
    ...tokenRoutes({ store, audit, clock, config: ctx.config, sealer: plane.sealer }),
    ...operatorRoutes({ store, audit, clock, sealer: plane.sealer }),
    ...deviceRoutes({ store, clock, audit, profiles: ctx.config.profiles }),
    ...signingRoutes({ store, audit, clock, issue, keys: ctx.keys!, tokenLabel: ctx.env.tokenLabel, tsa: ctx.config.tsa, revocation }),
  ];
}

/**
 * req.ip, read once. With no trusted proxy (`trust proxy` is off: X-Forwarded-For is never believed)
 * Express's getter still runs proxy-addr and parses X-Forwarded-For on every read, and a request reads
 * it three or four times (request log, rate limit, audit source); the answer is the socket's address.
 */
const pinClientAddress: RequestHandler = (req, _res, next) => {
  Object.defineProperty(req, 'ip', { value: req.socket.remoteAddress, enumerable: true });
  next();
};

/** The Express application of the HTTPS listener: REST under /api/v1 and the operator console. */
export function createHttpsApp(ctx: AppContext, issue: IssueDeps, plane: SecurityPlane, revocation: RevokeDeps, logger: Logger, cmpResponder: () => LoadedSigner | undefined = () => undefined): Express & { api: Router } {
  const log = (line: string) => logger.info(line);
  const app = express() as Express & { api: Router };
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  // Responses are no-store API answers: an ETag (a hash of every body) would only cost time.
  app.set('etag', false);
  app.use(pinClientAddress);
  app.use(requestLog(logger));
  app.use(securityHeaders);

  const { rateLimits } = ctx.config.security;
  const api = Router();
  const routes = restRoutes(ctx, issue, plane, revocation);
  const description = openApiDocument([...routes, OPENAPI_ROUTE], PACKAGE_VERSION);
  routes.push({ ...OPENAPI_ROUTE, handler: (_req, res) => void res.json(description) });
  mountRoutes(api, routes, {
    authenticate: authenticate({
      store: ctx.store,
      audit: ctx.audit,
      clock: ctx.clock,
      certificates: ctx.certificates,
      profiles: ctx.config.profiles,
      guard: plane.guard,
      sessionPolicy: plane.sessionPolicy,
      denials: plane.denials,
    }),
    refuseBlocked: refuseBlockedSources({ guard: plane.guard, clock: ctx.clock }),
    rateLimiters: {
      auth: rateLimit('authentication', rateLimits.auth, ctx.clock),
      enrollment: rateLimit('enrollment', rateLimits.enrollment, ctx.clock),
      provisioning: rateLimit('provisioning', rateLimits.provisioning, ctx.clock),
    },
    audit: plane.denials,
    stepUp: requireFreshCode({ checkFreshCode: (name, code, now) => checkFreshCode(ctx.store, plane.sealer, name, code, now), guard: plane.guard, denials: plane.denials, clock: ctx.clock }),
  });
  app.use('/api/v1', api);
  app.api = api;
  app.use(
    '/console',
    createConsoleRouter({
      sessions: operatorSessions(ctx.store, plane.sealer, plane.sessionPolicy),
      audit: ctx.audit,
      clock: ctx.clock,
      guard: plane.guard,
      policy: plane.sessionPolicy,
      denials: plane.denials,
      loginGuards: [rateLimit('authentication', rateLimits.auth, ctx.clock), refuseBlockedSources({ guard: plane.guard, clock: ctx.clock })],
    }),
  );

  // CMP (RFC 9483, docs/cmp.md): its own protection (MAC or signature), no API credential.
  if (ctx.config.cmp.enabled) {
    const root = ctx.config.cas.find((c) => !c.parent)!.name;
    app.use(
      '/.well-known/cmp',
      cmpRouter(
        { store: ctx.store, audit: ctx.audit, clock: ctx.clock, issue, revocation, config: ctx.config.cmp, sealer: plane.sealer, responder: cmpResponder, root: () => issue.issuers.get(root).certificate, rootCa: root, renewal: ctx.config.est.renewal, bootstrapCas: ctx.config.est.bootstrapCaCertificates, guard: plane.guard, denials: plane.denials },
        [refuseBlockedSources({ guard: plane.guard, clock: ctx.clock }), rateLimit('enrollment', rateLimits.enrollment, ctx.clock)],
      ),
    );
  }

  app.use((req, res) => sendError(res, 404, 'not_found', `no route ${req.method} ${req.path}`));
  app.use(errorHandler(log));
  return app;
}

/**
 * The HTTPS listener's request handler: EST (`/.well-known/est/…`) on its own node:http handler (see
 * protocols/est/handler.ts), everything else through the Express application.
 */
export function createHttpsListener(ctx: AppContext, issue: IssueDeps, plane: SecurityPlane, revocation: RevokeDeps, logger: Logger, keyPackageSigner: () => KeyPackageSigner, cmpResponder?: () => LoadedSigner | undefined, scep?: (req: IncomingMessage, res: ServerResponse) => Promise<void>) {
  const app = createHttpsApp(ctx, issue, plane, revocation, logger, cmpResponder);
  const logRequest = createRequestLog(logger);
  const est = createEstHandler({
    ports: enrollmentPorts(ctx, issue),
    clock: ctx.clock,
    config: ctx.config,
    enrollmentLimit: createRateLimiter('enrollment', ctx.config.security.rateLimits.enrollment, ctx.clock),
    guard: plane.guard,
    denials: plane.denials,
    // EST's credentials are per request (a secret or a bootstrap certificate), not a principal.
    logRequest: (req, res) => logRequest(req, res, () => undefined),
    log: (line) => logger.info(line),
    keyPackageSigner,
  });
  // SCEP (RFC 8894, docs/scep.md) on a bare handler too: its messages carry their own protection (CMS).
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    if (isEstPath(req.url)) return est(req, res);
    if (scep && isScepPath(req.url)) {
      logRequest(req, res, () => undefined);
      return void scep(req, res);
    }
    return app(req, res);
  };
  return { app, listener };
}
