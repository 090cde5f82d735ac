import type { AuditLog } from '../audit/log.js';
import type { Clock } from '../base/clock.js';

export interface Alert {
  rule: string;
  severity: 'info' | 'warning' | 'critical';
  message: string;
  details?: Record<string, unknown>;
}

export interface AlertSink {
  raise(alert: Alert): void;
  /** Resolves when every delivery started so far has finished (tests, shutdown). */
  flush(): Promise<void>;
}

/**
 * Alerts go to the log (one JSON line each), into the audit log (so the console can list them),
 * and, when configured, to a webhook as a JSON POST. Delivery never blocks or fails the request
 * that caused it; a webhook that is down is retried twice and then reported in the log.
 */
export function createAlertSink(options: { webhookUrl: string | null; audit: AuditLog; clock: Clock; log: (line: string) => void }): AlertSink {
  const pending = new Set<Promise<void>>();
  const track = (p: Promise<void>) => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };

  async function post(body: string): Promise<void> {
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        const response = await fetch(options.webhookUrl!, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'hallmark-alerts' },
          body,
          signal: AbortSignal.timeout(5000),
        });
        if (response.ok) return;
        options.log(`alert webhook answered ${response.status} (attempt ${attempt})`);
      } catch (e) {
        options.log(`alert webhook failed: ${(e as Error).message} (attempt ${attempt})`);
      }
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }

  return {
    raise(alert) {
      const event = { type: 'hallmark.alert', at: options.clock.now().toISOString(), ...alert };
      const body = JSON.stringify(event);
      options.log(`ALERT ${body}`);
      track(
        options.audit
          .record({ actor: 'system:alerts', action: 'alert', target: alert.rule, outcome: 'success', details: { severity: alert.severity, message: alert.message, ...alert.details } })
          .catch((e: Error) => options.log(`cannot audit alert: ${e.message}`)),
      );
      if (options.webhookUrl) track(post(body));
    },
    async flush() {
      while (pending.size) await Promise.allSettled([...pending]);
    },
  };
}
