import type { AuditEvent, AuditLog } from '../audit/log.js';
import type { Alert } from './sink.js';
import { createSlidingWindow } from './sliding-window.js';
import type { Tally } from './tallies.js';

export interface BurstOptions {
  action: string;
  threshold: number;
  windowSeconds: number;
}

/** Bursts of one kind of audit event (e.g. revocations): one alert per window once over the threshold. */
export function createBurstRule(rule: string, options: BurstOptions) {
  const window = createSlidingWindow(options.windowSeconds * 1000);
  let quietUntil = 0;
  return (now: number, events: number): Alert | undefined => {
    const count = window.add('all', now, events);
    if (count < options.threshold || now < quietUntil) return undefined;
    quietUntil = now + options.windowSeconds * 1000;
    return { rule, severity: 'warning', message: `${count} ${options.action} events within ${options.windowSeconds}s`, details: { count, windowSeconds: options.windowSeconds } };
  };
}

/** Successful revocations appended to the audit log are tallied for the revocation-burst rule. */
export function watchEventBursts(audit: AuditLog, tally: Tally, revocationBurst: { threshold: number; windowSeconds: number }): void {
  const spec = { rule: 'revocation-burst', action: 'certificate.revoke', ...revocationBurst } as const;
  audit.observe((event: AuditEvent) => {
    if (event.action === spec.action && event.outcome === 'success') tally(spec, 'all', 1);
  });
}
