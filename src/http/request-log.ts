import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from '../observability/logger.js';
import { actorName, type Principal } from '../auth/principal.js';

/**
 * One line per request: id (X-Request-Id, echoed, or a new one), method, path, status, duration,
 * the authenticated principal and the outcome. Never the query string or a header value.
 */
export function requestLog(logger: Logger): RequestHandler {
  // The line's fields are fixed above and none can hold a secret, so it skips the wildcard redaction
  // the logger applies to everything else (it cost 15 µs a line, a fifth of an EST request's logging).
  const lines = logger.child({}, { redact: { paths: [] } });
  return (req, res, next) => {
    const supplied = req.get('x-request-id');
    const id = supplied && /^[A-Za-z0-9._-]{1,64}$/.test(supplied) ? supplied : randomUUID();
    res.setHeader('X-Request-Id', id);
    const started = performance.now();
    res.on('finish', () => {
      const principal = (req as { principal?: Principal }).principal;
      lines.info(
        {
          requestId: id,
          method: req.method,
          path: req.originalUrl.split('?')[0],
          status: res.statusCode,
          ms: Math.round((performance.now() - started) * 10) / 10,
          principal: principal ? actorName(principal) : null,
          source: req.ip,
          outcome: res.statusCode < 400 ? 'success' : res.statusCode < 500 ? 'refused' : 'error',
        },
        'request',
      );
    });
    next();
  };
}
