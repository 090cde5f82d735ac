import type { SecurityConfig } from '../config/ca-config.js';
import type { AlertSink } from './sink.js';
import { createSlidingWindow } from './sliding-window.js';

export interface AuthFailureGuard {
  /** Seconds until `source` may try again, or 0. */
  blockedFor(source: string, now: Date): number;
  recordFailure(source: string, now: Date): void;
}

/**
 * Authentication failures per client address: over the threshold within the window, an alert is
 * raised and the address is refused (429) for blockSeconds. Counted per instance.
 */
export function createAuthFailureGuard(config: SecurityConfig['alerts']['authFailures'], alerts: AlertSink): AuthFailureGuard {
  const window = createSlidingWindow(config.windowSeconds * 1000);
  const blockedUntil = new Map<string, number>();
  return {
    blockedFor(source, now) {
      const until = blockedUntil.get(source) ?? 0;
      if (until <= now.getTime()) {
        blockedUntil.delete(source);
        return 0;
      }
      return Math.ceil((until - now.getTime()) / 1000);
    },
    recordFailure(source, now) {
      const count = window.add(source, now.getTime());
      if (count < config.threshold || blockedUntil.has(source)) return;
      if (config.blockSeconds > 0) blockedUntil.set(source, now.getTime() + config.blockSeconds * 1000);
      window.reset(source);
      alerts.raise({
        rule: 'auth-failures',
        severity: 'warning',
        message: `${count} authentication failures from ${source} within ${config.windowSeconds}s; blocked for ${config.blockSeconds}s`,
        details: { source, failures: count, windowSeconds: config.windowSeconds, blockSeconds: config.blockSeconds },
      });
    },
  };
}
