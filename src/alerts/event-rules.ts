import type { AuditEvent, AuditLog } from '../audit/log.js';
import type { SecurityConfig } from '../config/ca-config.js';
import type { AlertSink } from './sink.js';
import { createSlidingWindow } from './sliding-window.js';

/** Bursts of one kind of audit event (e.g. revocations) raise one alert per window. */
export function watchEventBursts(audit: AuditLog, alerts: AlertSink, config: SecurityConfig['alerts']): void {
  const rules = [{ rule: 'revocation-burst', action: 'certificate.revoke', ...config.revocationBurst }];
  const windows = rules.map((r) => ({ ...r, window: createSlidingWindow(r.windowSeconds * 1000), quietUntil: 0 }));
  audit.observe((event: AuditEvent, at: Date) => {
    for (const w of windows) {
      if (event.action !== w.action || event.outcome !== 'success') continue;
      const count = w.window.add('all', at.getTime());
      if (count >= w.threshold && at.getTime() >= w.quietUntil) {
        w.quietUntil = at.getTime() + w.windowSeconds * 1000;
        alerts.raise({ rule: w.rule, severity: 'warning', message: `${count} ${w.action} events within ${w.windowSeconds}s`, details: { count, windowSeconds: w.windowSeconds } });
      }
    }
  });
}
