import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import type { Logger } from '../observability/logger.js';
import { actorName, type Principal } from '../auth/principal.js';

/**
 * One line per request: id (X-Request-Id, echoed, or a new one), method, path, status, duration,
 * the authenticated principal and the outcome. Never the query string or a header value.
 */
export function createRequestLog(logger: Logger): (req: IncomingMessage, res: ServerResponse, principal: () => Principal | undefined) => void {
  // The line's fields are fixed below and none can hold a secret, so it skips the wildcard redaction
  // the logger applies to everything else (a large share of a request's logging cost; see
  // docs/issuance-performance.md).
  const lines = logger.child({}, { redact: { paths: [] } });
  return (req, res, principal) => {
    const supplied = req.headers['x-request-id'];
    const id = typeof supplied === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(supplied) ? supplied : randomUUID();
    res.setHeader('X-Request-Id', id);
    const started = performance.now();
    // Read now: Express rewrites req.url while routing (originalUrl keeps it); the node handlers never do.
    const path = ((req as { originalUrl?: string }).originalUrl ?? req.url ?? '/').split('?')[0];
    res.on('finish', () => {
      const who = principal();
      lines.info(
        {
          requestId: id,
          method: req.method,
          path,
          status: res.statusCode,
          ms: Math.round((performance.now() - started) * 10) / 10,
          principal: who ? actorName(who) : null,
          source: req.socket.remoteAddress,
          outcome: res.statusCode < 400 ? 'success' : res.statusCode < 500 ? 'refused' : 'error',
        },
        'request',
      );
    });
  };
}

export function requestLog(logger: Logger): RequestHandler {
  const log = createRequestLog(logger);
  return (req, res, next) => {
    log(req, res, () => (req as { principal?: Principal }).principal);
    next();
  };
}
