import type { Store } from '../store/handle.js';
import type { Clock } from '../base/clock.js';
import type { SecurityConfig } from '../config/ca-config.js';
import type { AlertSink } from './sink.js';
import { claimPeriod as claim } from '../store/settings.js';
import { actionCountQuery, pendingAuditState } from '../store/audit.js';
import { certificateCounts } from '../store/reports.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** An audit entry not chained after this long means no sequencer is working (their bound is ~¼ s). */
export const AUDIT_SEQUENCING_STALL_MS = 60_000;

export interface ExpiringThing {
  what: string;
  notAfter: Date;
}

const countActions = async (store: Store, since: number, actions: string[], outcome?: string) => Number((await actionCountQuery(store, since, actions, outcome))[0]!.n);

/** Expiry warnings and the hourly and daily summaries; called on a timer by `serve`. */
export async function runPeriodicChecks(
  deps: { store: Store; clock: Clock; alerts: AlertSink; config: SecurityConfig['alerts'] },
  expiring: () => Promise<ExpiringThing[]>,
): Promise<void> {
  const now = deps.clock.now().getTime();
  const horizon = now + deps.config.expiryWarningDays * DAY;
  for (const thing of await expiring()) {
    if (thing.notAfter.getTime() > horizon) continue;
    // One warning per thing per day, whichever instance sends it.
    if (!(await claim(deps.store, `alert.expiry.${thing.what}`, DAY, now, true))) continue;
    const days = Math.floor((thing.notAfter.getTime() - now) / DAY);
    deps.alerts.raise({
      rule: 'certificate-expiry',
      severity: days < 7 ? 'critical' : 'warning',
      message: `${thing.what} expires in ${days} days (${thing.notAfter.toISOString()})`,
      details: { what: thing.what, notAfter: thing.notAfter.toISOString(), days },
    });
  }
  // The chain covers every entry within its bound only while a sequencer works: say so when none does.
  const pending = await pendingAuditState(deps.store);
  if (pending.oldestAt !== null && now - pending.oldestAt > AUDIT_SEQUENCING_STALL_MS && (await claim(deps.store, 'alert.audit-sequencing', HOUR, now, true))) {
    deps.alerts.raise({
      rule: 'audit-sequencing',
      severity: 'critical',
      message: `${pending.count} audit entries have waited to be chained for ${Math.round((now - pending.oldestAt) / 1000)} s`,
      details: { pending: pending.count, oldest: new Date(pending.oldestAt).toISOString() },
    });
  }
  if (!deps.config.summaries) return;
  if (await claim(deps.store, 'summary.hourly', HOUR, now, false)) {
    deps.alerts.raise({
      rule: 'summary-hourly',
      severity: 'info',
      message: 'hourly summary',
      details: {
        failedApiCalls: await countActions(deps.store, now - HOUR, ['auth.failure', 'auth.denied']),
        certificatesIssued: await countActions(deps.store, now - HOUR, ['certificate.issue'], 'pending'),
        devicesProvisioned: await countActions(deps.store, now - HOUR, ['device.provision'], 'success'),
      },
    });
  }
  if (await claim(deps.store, 'summary.daily', DAY, now, false)) {
    const { expiringSoon } = await certificateCounts(deps.store, now, 30 * DAY);
    deps.alerts.raise({
      rule: 'summary-daily',
      severity: 'info',
      message: 'daily summary',
      details: {
        certificatesExpiringIn30Days: expiringSoon,
        policyAndConfigurationChanges: await countActions(deps.store, now - DAY, ['config.change', 'apikey.create', 'apikey.revoke', 'operator.create', 'operator.disable', 'operator.password', 'operator.totp-reset', 'ca.create']),
      },
    });
  }
}
