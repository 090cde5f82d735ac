import type { RequestHandler } from 'express';

/** Headers for an API that no browser should frame, sniff or cache. */
export const securityHeaders: RequestHandler = (_req, res, next) => {
  res.set({
    'Strict-Transport-Security': 'max-age=31536000',
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
  });
  next();
};
