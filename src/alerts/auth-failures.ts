import type { SecurityConfig } from '../config/ca-config.js';
import type { AlertSink } from './sink.js';
import { createSlidingWindow } from './sliding-window.js';

export type AuthFailureConfig = SecurityConfig['alerts']['authFailures'];

export interface AuthFailureGuard {
  /** Seconds until `source` may try again, or 0. */
  blockedFor(source: string, now: Date): number;
  recordFailure(source: string, now: Date): void;
}

/** What crossing the threshold did: the failures counted, and the block's end (0: no block). */
export interface ThresholdCrossed {
  failures: number;
  blockedUntil: number;
}

/** Client addresses refused until a time (epoch milliseconds); an expired block is forgotten when asked. */
function createBlockList() {
  const blockedUntil = new Map<string, number>();
  return {
    /** Until when `source` is blocked, or 0. */
    until(source: string, now: number): number {
      const until = blockedUntil.get(source) ?? 0;
      if (until > now) return until;
      blockedUntil.delete(source);
      return 0;
    },
    has: (source: string) => blockedUntil.has(source),
    /** Blocks `source` until `until` (0: no block). */
    block(source: string, until: number): void {
      if (until) blockedUntil.set(source, until);
    },
    /** Blocks now in force. */
    active(now: number): { source: string; until: number }[] {
      return [...blockedUntil].filter(([, until]) => until > now).map(([source, until]) => ({ source, until }));
    },
  };
}

/**
 * Authentication failures per client address within the window; at the threshold the address is
 * blocked for blockSeconds and its count starts again. Times in epoch milliseconds.
 */
export function createFailureCounter(config: AuthFailureConfig) {
  const window = createSlidingWindow(config.windowSeconds * 1000);
  const blocks = createBlockList();
  return {
    blockedUntil: blocks.until,
    /** Counts one failure; says so when this one crossed the threshold. */
    record(source: string, now: number): ThresholdCrossed | undefined {
      const failures = window.add(source, now);
      if (failures < config.threshold || blocks.has(source)) return undefined;
      const until = config.blockSeconds > 0 ? now + config.blockSeconds * 1000 : 0;
      blocks.block(source, until);
      window.reset(source);
      return { failures, blockedUntil: until };
    },
    /** Blocks now in force (told to a worker that starts while they last). */
    active: blocks.active,
  };
}

export function raiseAuthFailureAlert(alerts: AlertSink, config: AuthFailureConfig, source: string, failures: number): void {
  alerts.raise({
    rule: 'auth-failures',
    severity: 'warning',
    message: `${failures} authentication failures from ${source} within ${config.windowSeconds}s; blocked for ${config.blockSeconds}s`,
    details: { source, failures, windowSeconds: config.windowSeconds, blockSeconds: config.blockSeconds },
  });
}

const secondsUntil = (until: number, now: Date) => (until ? Math.ceil((until - now.getTime()) / 1000) : 0);

/**
 * Authentication failures per client address: over the threshold within the window, an alert is
 * raised and the address is refused (429) for blockSeconds. Counted by this process; the workers of
 * `serve --workers` count together (src/cluster/auth-failures.ts).
 */
export function createAuthFailureGuard(config: AuthFailureConfig, alerts: AlertSink): AuthFailureGuard {
  const counter = createFailureCounter(config);
  return {
    blockedFor: (source, now) => secondsUntil(counter.blockedUntil(source, now.getTime()), now),
    recordFailure(source, now) {
      const crossed = counter.record(source, now.getTime());
      if (crossed) raiseAuthFailureAlert(alerts, config, source, crossed.failures);
    },
  };
}

/**
 * A guard whose counting is done elsewhere (the primary of `serve --workers`): failures are reported,
 * and the blocks decided there come back through `block`.
 */
export function createRelayedAuthFailureGuard(report: (source: string) => void) {
  const blocks = createBlockList();
  const guard: AuthFailureGuard = {
    blockedFor: (source, now) => secondsUntil(blocks.until(source, now.getTime()), now),
    recordFailure: (source) => report(source),
  };
  return { guard, block: blocks.block };
}
