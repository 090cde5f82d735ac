import type { ErrorRequestHandler, Response } from 'express';
import { isHallmarkError } from '../base/errors.js';
import { STORAGE_RETRY_AFTER_SECONDS, storageFault } from '../store/faults.js';

/** What a request gets when the database is unreachable, whatever the protocol (REST: JSON, EST: text). */
export const DATABASE_UNAVAILABLE = { status: 503, code: 'database_unavailable', message: 'the database cannot be reached; retry shortly' } as const;

export function sendError(res: Response, status: number, code: string, message: string, extra?: Record<string, unknown>): void {
  res.status(status).json({ error: { code, message, ...extra } });
}

/**
 * Maps everything thrown by a route to `{"error": {code, message}}`. Refusals keep their status;
 * body-parser's errors become 400/413/415; anything unexpected is a 500 with no internals in it.
 */
export function errorHandler(log: (line: string) => void): ErrorRequestHandler {
  return (err, _req, res, _next) => {
    if (isHallmarkError(err)) {
      const status = err.status >= 400 && err.status < 600 ? err.status : 400;
      if (typeof err.details?.retryAfter === 'number') res.set('Retry-After', String(err.details.retryAfter));
      return sendError(res, status, err.code, err.message, err.details ? { details: err.details } : undefined);
    }
    if (isDatabaseUnavailable(err)) {
      // Every storage fault (busy, full, read-only, I/O, corrupt, gone) is the server's, for now: 503.
      const fault = databaseUnavailable(err);
      log(`storage fault: ${fault.message}: ${(err as Error)?.message ?? err}`);
      res.set('Retry-After', String(STORAGE_RETRY_AFTER_SECONDS));
      return sendError(res, fault.status, fault.code, fault.message);
    }
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.too.large') return sendError(res, 413, 'body_too_large', 'request body is larger than this route accepts');
    if (e.type === 'entity.parse.failed') return sendError(res, 400, 'invalid_json', 'request body is not valid JSON');
    if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') return sendError(res, 415, 'unsupported_encoding', e.message ?? 'unsupported encoding');
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) return sendError(res, e.status, 'bad_request', e.message ?? 'bad request');
    log(`internal error: ${(err as Error)?.stack ?? err}`);
    sendError(res, 500, 'internal', 'internal error; the server log has the details');
  };
}

/** A storage fault of any kind (store/faults.ts): a 503, never a 500. */
export const isDatabaseUnavailable = (err: unknown): boolean => storageFault(err) !== undefined;

/** The 503 a storage fault gets, with its reason. */
export const databaseUnavailable = (err: unknown) => ({ status: 503, code: DATABASE_UNAVAILABLE.code, message: `the database is unavailable (${storageFault(err)}); retry shortly` });
