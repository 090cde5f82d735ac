import { sql, type Handle } from './handle.js';
import type { AuditRow } from './audit.js';

/** Counts for people: the status command, the console's overview and charts. Counted by the database. */

const DAY = 86_400_000;

/** Who issues the certificates Hallmark renews by itself: OCSP responders and its HTTPS server's. */
const SELF_RENEWING = ['system:ocsp', 'system:tls'];

/**
 * Certificates by status, with the active ones already expired and those expiring within `soonMs`:
 * those an operator must act on apart from the service certificates that renew themselves.
 */
export async function certificateCounts(
  handle: Handle,
  now: number,
  soonMs = 30 * DAY,
): Promise<{ byStatus: Record<string, number>; expired: number; expiringSoon: number; selfRenewingExpiringSoon: number }> {
  const db = sql(handle);
  const rows = (await db('certificates').select('status').count({ n: '*' }).groupBy('status')) as { status: string; n: number | string }[];
  const expired = Number((await db('certificates').where({ status: 'active' }).where('not_after', '<=', now).count({ n: '*' }))[0]!.n);
  const soon = (await db('certificates')
    .where({ status: 'active' })
    .where('not_after', '>', now)
    .where('not_after', '<=', now + soonMs)
    .select(db.raw('CASE WHEN requested_by IN (?, ?) THEN 1 ELSE 0 END AS self_renewing', SELF_RENEWING))
    .count({ n: '*' })
    .groupBy('self_renewing')) as { self_renewing: number | string; n: number | string }[];
  const soonOf = (selfRenewing: boolean) => Number(soon.find((r) => Number(r.self_renewing) === (selfRenewing ? 1 : 0))?.n ?? 0);
  return { byStatus: Object.fromEntries(rows.map((r) => [r.status, Number(r.n)])), expired, expiringSoon: soonOf(false), selfRenewingExpiringSoon: soonOf(true) };
}

export const deviceCount = async (handle: Handle): Promise<number> => Number((await sql(handle)('devices').count({ n: '*' }))[0]!.n);

export const activeStationCount = async (handle: Handle): Promise<number> => Number((await sql(handle)('stations').whereNull('disabled_at').count({ n: '*' }))[0]!.n);

/** Alerts raised since `since`, newest first. */
export const recentAlerts = (handle: Handle, since: number, limit: number): Promise<AuditRow[]> =>
  sql(handle)('audit_events').where({ action: 'alert' }).where('at', '>', since).orderBy('seq', 'desc').limit(limit);

const HOUR = 3_600_000;
const WEEK = 7 * 24 * HOUR;
const HOURS = 168;
const WEEKS = 26;

export interface ChartSeries {
  provisionedPerHour: { start: string; hours: number; lines: { line: string; counts: number[]; total: number }[] };
  /** Every profile's weeks add up to `weeks`. */
  expiringPerWeek: { start: string; weeks: number[]; profiles: { profile: string; weeks: number[] }[] };
  revocationsByReason: { reason: string; count: number }[];
}

/**
 * The console's chart series, counted by the database: a factory line makes hundreds of thousands
 * of devices a week and a fleet has millions of certificates, which were read row by row into this
 * process to be counted. The bucket is an integer division in SQL (truncation is the floor here: the
 * WHERE keeps both differences positive). Manufacturing records are found through their (station, at)
 * index, one range per station.
 */
export async function chartSeries(handle: Handle, now: number): Promise<ChartSeries> {
  const db = sql(handle);
  const firstHour = Math.floor(now / HOUR) * HOUR - (HOURS - 1) * HOUR;
  const stations = ((await db('stations').select('name')) as { name: string }[]).map((s) => s.name);
  const provisioned = stations.length
    ? ((await db('manufacturing_records')
        .select('line', db.raw('CAST((at - ?) / ? AS INTEGER) AS hour', [firstHour, HOUR]))
        .count({ n: '*' })
        .whereIn('station', stations)
        .where('at', '>=', firstHour)
        .groupBy('line', 'hour')) as { line: string; hour: number | string; n: number | string }[])
    : [];
  const perLine = new Map<string, number[]>();
  for (const r of provisioned) {
    const hour = Number(r.hour);
    if (hour >= HOURS) continue; // a clock ahead of this instance's
    const series = perLine.get(r.line) ?? new Array<number>(HOURS).fill(0);
    series[hour]! += Number(r.n);
    perLine.set(r.line, series);
  }

  const expiring = (await db('certificates')
    .select('profile', db.raw('CAST((not_after - ?) / ? AS INTEGER) AS week', [now, WEEK]))
    .count({ n: '*' })
    .where({ status: 'active' })
    .where('not_after', '>', now)
    .where('not_after', '<=', now + WEEKS * WEEK)
    // The responder and HTTPS certificates renew themselves: not an operator's to plan for.
    .whereNotIn('requested_by', SELF_RENEWING)
    .groupBy('profile', 'week')) as { profile: string; week: number | string; n: number | string }[];
  const perWeek = new Array<number>(WEEKS).fill(0);
  const perProfile = new Map<string, number[]>();
  for (const r of expiring) {
    // notAfter exactly 26 weeks out is the last week's.
    const week = Math.min(WEEKS - 1, Number(r.week));
    perWeek[week]! += Number(r.n);
    const series = perProfile.get(r.profile) ?? new Array<number>(WEEKS).fill(0);
    series[week]! += Number(r.n);
    perProfile.set(r.profile, series);
  }

  const reasons = (await db('certificates').select('revocation_reason').count({ n: '*' }).where({ status: 'revoked' }).groupBy('revocation_reason')) as {
    revocation_reason: string | null;
    n: number | string;
  }[];
  return {
    provisionedPerHour: {
      start: new Date(firstHour).toISOString(),
      hours: HOURS,
      lines: [...perLine].sort(([a], [b]) => (a < b ? -1 : 1)).map(([line, counts]) => ({ line, counts, total: counts.reduce((a, b) => a + b, 0) })),
    },
    expiringPerWeek: { start: new Date(now).toISOString(), weeks: perWeek, profiles: [...perProfile].sort(([a], [b]) => (a < b ? -1 : 1)).map(([profile, weeks]) => ({ profile, weeks })) },
    // Sorted here: the databases put a NULL reason first (SQLite) or last (PostgreSQL).
    revocationsByReason: reasons.map((r) => ({ reason: r.revocation_reason ?? 'unspecified', count: Number(r.n) })).sort((a, b) => (a.reason < b.reason ? -1 : 1)),
  };
}
