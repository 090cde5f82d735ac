import type { Db } from '../store/db.js';
import type { Clock } from '../clock.js';
import type { SecurityConfig } from '../config/ca-config.js';
import type { AlertSink } from './sink.js';
import { isUniqueViolation } from '../store/unique-violation.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface ExpiringThing {
  what: string;
  notAfter: Date;
}

/**
 * Claims a periodic job for this instant across instances: the row's value moves forward only for
 * the one instance whose compare-and-set succeeds, so several instances send one summary.
 */
async function claim(db: Db, name: string, period: number, now: number, fireOnFirst: boolean): Promise<boolean> {
  const row = await db('settings').where({ name }).first();
  if (!row) {
    try {
      await db('settings').insert({ name, value: String(now) });
    } catch (e) {
      if (isUniqueViolation(e)) return false; // another instance got there first
      throw e;
    }
    return fireOnFirst;
  }
  if (Number(row.value) + period > now) return false;
  return (await db('settings').where({ name, value: row.value }).update({ value: String(now) })) === 1;
}

/** Events of these actions since `since` (its plan is checked in tests: the (action, at) index). */
export function actionCountQuery(db: Db, since: number, actions: string[], outcome?: string) {
  const q = db('audit_events').where('at', '>', since).whereIn('action', actions);
  if (outcome) q.where({ outcome });
  return q.count({ n: '*' });
}

const countActions = async (db: Db, since: number, actions: string[], outcome?: string) => Number((await actionCountQuery(db, since, actions, outcome))[0]!.n);

/** Expiry warnings and the hourly and daily summaries; called on a timer by `serve`. */
export async function runPeriodicChecks(
  deps: { db: Db; clock: Clock; alerts: AlertSink; config: SecurityConfig['alerts'] },
  expiring: () => Promise<ExpiringThing[]>,
): Promise<void> {
  const now = deps.clock.now().getTime();
  const horizon = now + deps.config.expiryWarningDays * DAY;
  for (const thing of await expiring()) {
    if (thing.notAfter.getTime() > horizon) continue;
    // One warning per thing per day, whichever instance sends it.
    if (!(await claim(deps.db, `alert.expiry.${thing.what}`, DAY, now, true))) continue;
    const days = Math.floor((thing.notAfter.getTime() - now) / DAY);
    deps.alerts.raise({
      rule: 'certificate-expiry',
      severity: days < 7 ? 'critical' : 'warning',
      message: `${thing.what} expires in ${days} days (${thing.notAfter.toISOString()})`,
      details: { what: thing.what, notAfter: thing.notAfter.toISOString(), days },
    });
  }
  if (!deps.config.summaries) return;
  if (await claim(deps.db, 'summary.hourly', HOUR, now, false)) {
    deps.alerts.raise({
      rule: 'summary-hourly',
      severity: 'info',
      message: 'hourly summary',
      details: {
        failedApiCalls: await countActions(deps.db, now - HOUR, ['auth.failure', 'auth.denied']),
        certificatesIssued: await countActions(deps.db, now - HOUR, ['certificate.issue'], 'pending'),
        devicesProvisioned: await countActions(deps.db, now - HOUR, ['device.provision'], 'success'),
      },
    });
  }
  if (await claim(deps.db, 'summary.daily', DAY, now, false)) {
    const expiringSoon = await deps.db('certificates').where({ status: 'active' }).where('not_after', '>', now).where('not_after', '<=', now + 30 * DAY).count({ n: '*' });
    deps.alerts.raise({
      rule: 'summary-daily',
      severity: 'info',
      message: 'daily summary',
      details: {
        certificatesExpiringIn30Days: Number(expiringSoon[0]!.n),
        policyAndConfigurationChanges: await countActions(deps.db, now - DAY, ['config.change', 'apikey.create', 'apikey.revoke', 'operator.create', 'operator.disable', 'ca.create']),
      },
    });
  }
}
