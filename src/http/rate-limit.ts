import type { RequestHandler } from 'express';
import type { Clock } from '../clock.js';
import { sendError } from './errors.js';
import { metrics } from '../observability/metrics.js';

/**
 * A token bucket per client address and route group: `perMinute` requests a minute on average,
 * bursts up to the same number. Refusals are 429 with Retry-After (RFC 6585 §4).
 */
export function rateLimit(group: string, perMinute: number, clock: Clock): RequestHandler {
  if (perMinute <= 0) return (_req, _res, next) => next();
  const buckets = new Map<string, { tokens: number; at: number }>();
  const ratePerMs = perMinute / 60_000;
  return (req, res, next) => {
    const now = clock.now().getTime();
    const key = req.ip ?? 'unknown';
    const bucket = buckets.get(key) ?? { tokens: perMinute, at: now };
    bucket.tokens = Math.min(perMinute, bucket.tokens + (now - bucket.at) * ratePerMs);
    bucket.at = now;
    if (buckets.size > 100_000) buckets.clear(); // bounded memory under address churn
    buckets.set(key, bucket);
    if (bucket.tokens < 1) {
      metrics.rateLimited.inc({ group });
      res.set('Retry-After', String(Math.ceil((1 - bucket.tokens) / ratePerMs / 1000)));
      return sendError(res, 429, 'rate_limited', `too many ${group} requests from this address; retry later`);
    }
    bucket.tokens -= 1;
    next();
  };
}
