import type { RequestHandler } from 'express';
import type { Clock } from '../base/clock.js';
import { sendError } from './errors.js';
import { metrics } from '../observability/metrics.js';

export interface RateLimiter {
  /** Takes one request's token for `key`; when refused, the seconds to wait (Retry-After), counted as rate limited. */
  take(key: string): number | undefined;
}

/**
 * A token bucket per client address and route group: `perMinute` requests a minute on average,
 * bursts up to the same number. A rate of 0 or less turns it off.
 */
export function createRateLimiter(group: string, perMinute: number, clock: Clock): RateLimiter {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const ratePerMs = perMinute / 60_000;
  return {
    take(key) {
      if (perMinute <= 0) return undefined;
      const now = clock.now().getTime();
      let bucket = buckets.get(key);
      if (!bucket) {
        if (buckets.size >= 100_000) buckets.clear(); // bounded memory under address churn
        buckets.set(key, (bucket = { tokens: perMinute, at: now }));
      }
      bucket.tokens = Math.min(perMinute, bucket.tokens + (now - bucket.at) * ratePerMs);
      bucket.at = now;
      if (bucket.tokens < 1) {
        metrics.rateLimited.inc({ group });
        return Math.ceil((1 - bucket.tokens) / ratePerMs / 1000);
      }
      bucket.tokens -= 1;
      return undefined;
    },
  };
}

/** The limiter as Express middleware: refusals are 429 with Retry-After (RFC 6585 §4) and a JSON error. */
export function rateLimit(group: string, perMinute: number, clock: Clock): RequestHandler {
  const limiter = createRateLimiter(group, perMinute, clock);
  return (req, res, next) => {
    const retryAfter = limiter.take(req.ip ?? 'unknown');
    if (retryAfter === undefined) return next();
    res.set('Retry-After', String(retryAfter));
    sendError(res, 429, 'rate_limited', `too many ${group} requests from this address; retry later`);
  };
}
